"""The import command as a person meets it: one clear paragraph and an exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from ravingfans.cli import main; main()"]


def run(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAVINGFANS_")}
    env["RAVINGFANS_DATABASE_URL"] = database_url
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_import_then_reimport_says_unchanged(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,email\nC1,a@example.com\nC2,b@example.com\n", encoding="utf-8")
    first = run(database_url, "import", "customers", str(path), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 created" in first.stdout
    second = run(database_url, "import", "customers", str(path), cwd=tmp_path)
    assert "2 unchanged" in second.stdout and "0 created" in second.stdout


def test_bad_rows_exit_5_with_line_and_fix(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("order_id,ordered_at,quantity,unit_price\nO1,2025-13-01,1,10\n", encoding="utf-8")
    result = run(database_url, "import", "orders", str(path), cwd=tmp_path)
    assert result.returncode == 5
    assert "line 2, column 'ordered_at' (value '2025-13-01')" in result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_skip_invalid_reports_rejects_file(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("order_id,ordered_at,quantity,unit_price\nO1,2025-01-01,1,10\nO2,2025-01-01,x,10\n",
                    encoding="utf-8")
    result = run(database_url, "import", "orders", str(path), "--skip-invalid", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 row(s) rejected" in result.stderr and "o.rejects.csv" in result.stderr
    assert (tmp_path / "o.rejects.csv").exists()


def test_uninitialised_database_is_refused_with_the_fix(empty_database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id\nC1\n", encoding="utf-8")
    result = run(empty_database_url, "import", "customers", str(path), cwd=tmp_path)
    assert result.returncode == 3
    assert "not initialised" in result.stderr and "ravingfans init" in result.stderr


@pytest.mark.parametrize("args", [["import", "people", "x.csv"], ["import", "orders", "x.csv", "--format", "woo"]])
def test_usage_errors_are_short(database_url: str, tmp_path: Path, args: list[str]) -> None:
    result = run(database_url, *args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Invalid value" in result.stderr


def test_progress_bar_on_a_terminal(database_url: str, tmp_path: Path) -> None:
    import pty

    path = tmp_path / "c.csv"
    path.write_text("customer_id,email\n" + "".join(f"C{i},c{i}@example.com\n" for i in range(2000)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAVINGFANS_")}
    env.update(RAVINGFANS_DATABASE_URL=database_url, COLUMNS="100", TERM="xterm")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*CLI, "import", "customers", str(path)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=120)
    os.close(leader)
    assert proc.returncode == 0 and "2000 created" in out
    assert b"Reading c.csv" in seen
