"""`ravingfans config` and `ravingfans init`: see and prepare the installation."""

from __future__ import annotations

import json

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info, stdout


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("config")(config)
    app.command("init")(init)


def config(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Print the settings in force (secrets masked)."""
    shown = context.settings().masked()
    if as_json:
        stdout.print_json(json.dumps(shown))
        return
    for name, value in shown.items():
        stdout.print(f"RAVINGFANS_{name.upper()}={value}", markup=False, highlight=False)


def init() -> None:
    """Create the database tables, or apply the migrations this version needs."""
    from ravingfans.db import make_engine
    from ravingfans.db.migrate import upgrade

    settings = context.settings()
    engine = make_engine(settings.database_url)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        info(f"Database already up to date (revision {after}).")
    else:
        info(f"Database initialised: revision {before or 'empty'} -> {after}.")
