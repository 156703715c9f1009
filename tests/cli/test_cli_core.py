"""`ravingfans config` and `ravingfans init`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-c", "from ravingfans.cli import main; main()"]


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAVINGFANS_")}
    return subprocess.run([*CLI, *args], env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_config_masks_secrets_and_reads_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RAVINGFANS_BUSINESS_NAME=Shoe Heaven\nRAVINGFANS_SMTP_PASSWORD=hunter2\n")
    result = run("config", "--json", cwd=tmp_path,
                 RAVINGFANS_DATABASE_URL="postgresql+psycopg://shop:s3cret@db.internal/shop")
    shown = json.loads(result.stdout)
    assert shown["business_name"] == "Shoe Heaven"
    assert shown["smtp_password"] == "********" and shown["secret_key"] == "********"
    assert "s3cret" not in result.stdout and "hunter2" not in result.stdout
    assert shown["database_url"] == "postgresql+psycopg://shop:***@db.internal/shop"


def test_invalid_setting_is_named(tmp_path: Path) -> None:
    result = run("config", cwd=tmp_path, RAVINGFANS_TIME_ZONE="Mars/Olympus")
    assert result.returncode == 2
    assert "RAVINGFANS_TIME_ZONE" in result.stderr and "unknown time zone" in result.stderr


def test_init_creates_then_says_up_to_date(empty_database_url: str, tmp_path: Path) -> None:
    first = run("init", cwd=tmp_path, RAVINGFANS_DATABASE_URL=empty_database_url)
    assert first.returncode == 0 and "initialised" in first.stderr
    second = run("init", cwd=tmp_path, RAVINGFANS_DATABASE_URL=empty_database_url)
    assert second.returncode == 0 and "already up to date" in second.stderr


def test_bad_database_url(tmp_path: Path) -> None:
    result = run("init", cwd=tmp_path, RAVINGFANS_DATABASE_URL="mysql+nodriver://x")
    assert result.returncode == 2 and "Unsupported database" in result.stderr
    result = run("init", cwd=tmp_path, RAVINGFANS_DATABASE_URL="not a url")
    assert result.returncode == 2 and "not a database URL" in result.stderr
