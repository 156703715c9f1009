"""`ravingfans export customers|orders|interactions`: get the data out as CSV, Parquet or XLSX."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info


class Kind(StrEnum):
    """What to export."""

    customers = "customers"
    orders = "orders"
    interactions = "interactions"


class Format(StrEnum):
    """The file format."""

    csv = "csv"
    parquet = "parquet"
    xlsx = "xlsx"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("export")(export_command)


def export_command(
    kind: Kind = typer.Argument(..., help="customers, orders (one row per order line) or interactions."),
    fmt: Format = typer.Option(Format.csv, "--format", "-f", help="csv, parquet or xlsx."),
    out: str | None = typer.Option(None, "--out", "-o",
                                   help="File to write (default: KIND.FORMAT here); '-' is standard output (csv)."),
) -> None:
    """Export every customer, order line or interaction; times in RAVINGFANS_TIME_ZONE."""
    from ravingfans.ingest.export import default_filename, export

    settings = context.settings()
    target = out if out is not None else default_filename(kind.value, fmt.value)
    db = context.database()
    try:
        result = export(db.engine, kind.value, fmt.value, target if target == "-" else Path(target),
                        zone=settings.zone)
    finally:
        db.dispose()
    info(result.summary())
