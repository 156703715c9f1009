"""`ravingfans customers duplicates`, `merge` and `erase`: one person, one record, and gone when they ask."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum

import typer
from ravingfans.cli import context
from ravingfans.cli.output import info, stdout


class ListFormat(StrEnum):
    """How `customers duplicates` prints its list."""

    table = "table"
    csv = "csv"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    group = typer.Typer(help="Find, merge and erase customer records.", no_args_is_help=True)
    group.command("duplicates")(duplicates)
    group.command("merge")(merge)
    group.command("erase")(erase)
    app.add_typer(group, name="customers")


def duplicates(
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", help="table (to read) or csv (to process)."),
) -> None:
    """List pairs of customers that look like one person (same e-mail or same phone)."""
    from rich.table import Table

    from ravingfans.ingest.export import neutralize
    from ravingfans.services.duplicates import find_duplicates

    db = context.database()
    try:
        with db.session() as session:
            pairs = find_duplicates(session)
    finally:
        db.dispose()
    if fmt is ListFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["keep_id", "keep_name", "merge_id", "merge_name", "reason", "email", "phone"])
        for p in pairs:
            writer.writerow([p.keep_id, neutralize(p.keep_name), p.merge_id, neutralize(p.merge_name), p.reason,
                             neutralize(p.email or ""), p.phone or ""])
        sys.stdout.flush()
        return
    if not pairs:
        info("No duplicate candidates found.")
        return
    table = Table("keep", "name", "merge", "name", "why", "e-mail", "phone", title="Duplicate candidates")
    for p in pairs:
        table.add_row(f"#{p.keep_id}", p.keep_name, f"#{p.merge_id}", p.merge_name, p.reason, p.email or "",
                      p.phone or "")
    stdout.print(table, markup=False, highlight=False)
    info(f"{len(pairs)} pair(s). Merge one with: ravingfans customers merge KEEP_ID MERGE_ID")


def merge(
    keep_id: int = typer.Argument(..., help="The customer to keep."),
    merge_id: int = typer.Argument(..., help="The customer merged into it, then deleted."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Merge without asking."),
) -> None:
    """Merge customer MERGE_ID into KEEP_ID: its orders, contacts, notes, consents and ids move over."""
    from ravingfans.services.duplicates import merge_customers, preview_merge

    db = context.database()
    try:
        if not yes:
            with db.session() as session:
                preview = preview_merge(session, keep_id, merge_id)
            for line in preview.summary():
                stdout.print(line, markup=False, highlight=False, soft_wrap=True)
            try:
                confirmed = typer.confirm("Merge these two customers?", default=False)
            except typer.Abort:
                confirmed = False
            if not confirmed:
                info("Nothing merged.")
                raise typer.Exit(1)
        with db.session(write=True) as session:
            result = merge_customers(session, keep_id, merge_id)
    finally:
        db.dispose()
    for line in result.summary():
        stdout.print(line, markup=False, highlight=False, soft_wrap=True)


def erase(
    customer_id: int = typer.Argument(..., help="The customer to erase."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Erase without asking."),
) -> None:
    """Erase customer CUSTOMER_ID's personal data for good (right to erasure); their orders stay, anonymous."""
    from ravingfans.services.erasure import erase_customer, preview_erasure

    secret = context.settings().secret_key.get_secret_value()
    db = context.database()
    try:
        if not yes:
            with db.session() as session:
                plan = preview_erasure(session, customer_id)
            for line in plan.summary():
                stdout.print(line, markup=False, highlight=False, soft_wrap=True)
            try:
                confirmed = typer.confirm("Erase this customer for good? This cannot be undone", default=False)
            except typer.Abort:
                confirmed = False
            if not confirmed:
                info("Nothing erased.")
                raise typer.Exit(1)
        with db.session(write=True) as session:
            report = erase_customer(session, customer_id, by_user_id=None, secret=secret)
    finally:
        db.dispose()
    for line in report.summary():
        stdout.print(line, markup=False, highlight=False, soft_wrap=True)
