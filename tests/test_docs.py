"""Docs kept honest: every setting, command and option is documented; the README's commands are CI's."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from ravingfans.cli import app
from ravingfans.cli.analyze import parser as analyze_parser
from ravingfans.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> dict[str, list[str]]:
    """'import', 'customers merge', ... -> their long option names."""
    found: dict[str, list[str]] = {}

    def walk(command, prefix: str) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix} {name}".strip())
            return
        options = [o for p in command.params for o in getattr(p, "opts", []) if o.startswith("--") and o != "--help"]
        found[prefix] = options

    walk(typer.main.get_command(app), "")
    # `analyze` parses its own options with argparse (cli/analyze.py): Typer hands it every word untouched
    assert found["analyze"] == [], "analyze declares Typer options again: read them there, not from its parser"
    found["analyze"] = sorted(set(re.findall(r"--[a-z][a-z-]*", analyze_parser().format_usage())) - {"--help"})
    return found


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"`RAVINGFANS_{n.upper()}`" not in text]
    assert not missing, f"document these in docs/settings.md: {missing}"


def test_every_command_and_option_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = _commands()
    assert {"import", "init", "config", "demo", "serve", "export"} <= set(commands)
    missing = []
    for name, options in commands.items():
        section = re.search(rf"^## `ravingfans {re.escape(name)}\b.*?(?=^## |\Z)", text, re.M | re.S)
        if section is None:
            missing.append(f"ravingfans {name}")
            continue
        missing += [f"ravingfans {name} {o}" for o in options if f"`{o}" not in section.group(0)]
    assert not missing, f"document these in docs/cli.md: {missing}"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"^TEST_COMMAND='(.+)'$", ci, re.M)
    assert command is not None
    assert command.group(1) in readme
    assert readme.count("```sh") >= 2
