"""`ravingfans import`: read customers, products or orders from CSV/XLSX exports."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from ravingfans.cli import context, output
from ravingfans.cli.output import info, stdout
from ravingfans.errors import ImportFailed


class ImportKind(str, Enum):
    """What a file holds."""

    customers = "customers"
    products = "products"
    orders = "orders"


class ImportFormat(str, Enum):
    """The built-in layouts."""

    generic = "generic"
    shopify = "shopify"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("import")(import_command)


def import_command(
    kind: ImportKind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(..., help="A CSV or XLSX file."),
    format: ImportFormat = typer.Option(ImportFormat.generic, "--format", help="Column layout of the file."),
    source: str | None = typer.Option(None, "--source", help="Name of the system the file came from (default: the format)."),
    map_: list[str] = typer.Option([], "--map", help="Read column SOURCE as field TARGET: --map 'E-Mail=email'."),
    mapping: Path | None = typer.Option(None, "--mapping", help="A file of SOURCE=TARGET lines."),
    sheet: str | None = typer.Option(None, "--sheet", help="The sheet of an XLSX workbook to read."),
    date_format: str | None = typer.Option(None, "--date-format", help="strftime format of dates, e.g. %d.%m.%Y."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and report; write nothing."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Import good rows; write rejects beside the file."),
    no_create_customers: bool = typer.Option(False, "--no-create-customers",
                                             help="Reject orders whose customer is not known."),
) -> None:
    """Import customers, products or orders from a CSV or XLSX file (all-or-nothing by default)."""
    from ravingfans.ingest.importer import ImportOptions, import_file

    pairs = list(map_)
    if mapping is not None:
        try:
            pairs += mapping.read_text(encoding="utf-8-sig").splitlines()
        except OSError as exc:
            raise ImportFailed(f"Cannot read the mapping file {mapping}: {exc.strerror}.") from None
    options = ImportOptions(kind=kind.value, format=format.value, source=source, mapping=pairs, sheet=sheet,
                            date_format=date_format, dry_run=dry_run, skip_invalid=skip_invalid,
                            create_customers=not no_create_customers)
    settings = context.settings()
    db = context.database()
    try:
        if sys.stderr.isatty():
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

            with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                          TimeRemainingColumn(), transient=True, console=output.stderr.get()) as bar:
                task = bar.add_task(f"Reading {file.name}", total=max(file.stat().st_size, 1) if file.exists() else 1)
                report = import_file(db.engine, settings, file, options,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            report = import_file(db.engine, settings, file, options)
    finally:
        db.dispose()
    for warning in report.warnings:
        info(f"Note: {warning}")
    if report.rejected:
        info(f"{report.rejected} row(s) rejected; see {report.rejects_path} for each row and its reason.")
        for problem in report.problems[:10]:
            info(f"  {problem}")
    prefix = "Dry run, nothing written. " if dry_run else ""
    stdout.print(prefix + report.summary(), markup=False, highlight=False, soft_wrap=True)
