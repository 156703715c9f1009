"""The root command: every command listed, each built from its own module only when it is asked for."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import typer
import typer.main

import ravingfans.cli as cli


def _registering_modules() -> list[str]:
    """The modules of ravingfans.cli that add commands to the app (those with a ``register``)."""
    names = [m.name for m in pkgutil.iter_modules(cli.__path__)]
    return sorted(n for n in names if hasattr(importlib.import_module(f"ravingfans.cli.{n}"), "register"))


def test_the_command_table_is_what_the_modules_register() -> None:
    named = {m for modules in cli.COMMAND_MODULES.values() for m in modules}
    assert named == set(_registering_modules()), "a module that registers commands is missing from COMMAND_MODULES"
    for command, modules in cli.COMMAND_MODULES.items():
        part = typer.Typer()
        for name in modules:
            importlib.import_module(f"ravingfans.cli.{name}").register(part)
        assert command in typer.main.get_group(part).commands, f"{modules} do not register {command!r}"
    eager = typer.Typer()
    for name in dict.fromkeys(m for modules in cli.COMMAND_MODULES.values() for m in modules):
        importlib.import_module(f"ravingfans.cli.{name}").register(eager)
    assert set(typer.main.get_group(eager).commands) == set(cli.COMMAND_MODULES)


def _run(*args: str, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_a_command_imports_only_its_own_module() -> None:
    code = ("import json, sys\nfrom ravingfans.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
            "    pass\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    done = _run("analyze", "--help", code=code)
    assert "--until" in done.stdout
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    commands = {m for m in loaded if m.startswith("ravingfans.cli.") and m.rsplit(".", 1)[1] in _registering_modules()}
    assert commands == {"ravingfans.cli.analyze"}
    assert not {"sqlalchemy", "fastapi", "jinja2", "pydantic"} & loaded


def test_help_lists_every_command_and_a_typo_gets_a_suggestion() -> None:
    code = "from ravingfans.cli import main; main()"
    shown = _run("--help", code=code)
    assert shown.returncode == 0
    assert all(f" {name} " in shown.stdout for name in cli.COMMAND_MODULES)
    typo = _run("anlyze", code=code)
    assert typo.returncode == 2 and "Did you mean 'analyze'?" in typo.stderr
    grouped = _run("survey", "--help", code=code)
    assert grouped.returncode == 0 and " results " in grouped.stdout and " send " in grouped.stdout


def test_analyze_starts_without_the_database_layer_or_rich(tmp_path) -> None:  # noqa: ANN001 - pytest's tmp_path
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,timestamp,amount\n1,2024-01-05,20\n1,2024-03-01,35\n2,2024-02-10,12.5\n",
                      encoding="utf-8")
    code = ("import json, sys\nfrom ravingfans.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    done = _run("analyze", str(orders), "--out", str(tmp_path / "scores.parquet"), code=code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Scored 2 customers up to 2024-03-01; wrote ")
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    # pydantic: Typer checks option values with it (0.06-0.09 s of a run whose whole time issue #3 measures);
    # Typer itself (0.05 s): main() hands `analyze` its words directly
    assert not {"sqlalchemy", "rich", "fastapi", "pydantic", "typer"} & loaded
    assert (tmp_path / "scores.parquet").stat().st_size > 0


def test_analyze_usage_errors_exit_2_and_name_the_option(tmp_path) -> None:  # noqa: ANN001 - pytest's tmp_path
    code = "from ravingfans.cli import main; main()"
    missing = _run("analyze", str(tmp_path / "orders.csv"), code=code)
    assert missing.returncode == 2 and "--out" in missing.stderr and "Traceback" not in missing.stderr
    bad = _run("analyze", "o.csv", "--out", "s.parquet", "--horizon-days", "soon", code=code)
    assert bad.returncode == 2 and "--horizon-days" in bad.stderr and "'soon'" in bad.stderr
    unit = _run("analyze", "o.csv", "--out", "s.parquet", "--time-unit", "month", code=code)
    assert unit.returncode == 2 and "day, week" in unit.stderr.replace("'", "")


def test_the_console_script_is_entry_and_keeps_main_s_exit_codes_and_files(tmp_path) -> None:  # noqa: ANN001
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "ravingfans"]
    assert script.value == "ravingfans.cli:entry"
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,timestamp,amount\n1,2024-01-05,20\n1,2024-03-01,35\n2,2024-02-10,12.5\n",
                      encoding="utf-8")
    code = "from ravingfans.cli import entry; entry()"
    done = _run("analyze", str(orders), "--out", str(tmp_path / "s.parquet"), "--params", str(tmp_path / "p.json"),
                code=code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Scored 2 customers up to 2024-03-01; wrote ")  # printed output is flushed
    assert json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))["until"] == "2024-03-01"  # files whole
    assert _run("analyze", str(orders), code=code).returncode == 2  # a usage error, as main() gives it
    words = ("analyze", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "t.parquet"))
    failed, by_main = _run(*words, code=code), _run(*words, code="from ravingfans.cli import main; main()")
    assert failed.returncode == by_main.returncode != 0 and failed.stderr == by_main.stderr
    assert "absent.csv" in failed.stderr and "Traceback" not in failed.stderr


def test_entry_freezes_the_collector_as_the_command_ends_even_when_it_fails(monkeypatch) -> None:  # noqa: ANN001
    import gc

    def fails() -> None:
        raise SystemExit(3)

    monkeypatch.setattr(cli, "main", fails)
    before = gc.get_freeze_count()
    try:
        try:
            cli.entry()
        except SystemExit as exc:
            assert exc.code == 3
        else:
            raise AssertionError("entry() swallowed the command's exit")
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()  # this test process goes on: give the collector its objects back
