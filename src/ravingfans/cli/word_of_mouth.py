"""`ravingfans mention add|list` and `ravingfans advocates`: word of mouth from the command line."""

from __future__ import annotations

import sys
from enum import StrEnum

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info, stdout


MENTION_COLUMNS = ("mention", "day", "customer", "name", "kind", "sentiment", "where", "url", "note", "heard_by")


class ListFormat(StrEnum):
    """How `advocates` prints its list."""

    table = "table"
    csv = "csv"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    group = typer.Typer(help="Record and list mentions: a customer spoke of us.", no_args_is_help=True)
    group.command("add")(add)
    group.command("list")(list_)
    app.add_typer(group, name="mention")
    app.command("advocates")(advocates)


def add(
    customer_id: int = typer.Argument(..., metavar="CUSTOMER", help="The customer's number."),
    kind: str = typer.Option(..., "--kind", help="review, social_post, told_friend, press or other."),
    where: str = typer.Option("", "--where", help="Where: Google, Instagram, a friend's name..."),
    url: str = typer.Option("", "--url", help="A link to it (http or https only)."),
    sentiment: str = typer.Option("", "--sentiment", help="praise, neutral or complaint (default: not said)."),
    note: str = typer.Option("", "--note", help="What they said, in a few words."),
    employee: str = typer.Option("", "--employee", help="The number of the employee who heard of it."),
    when: str = typer.Option("", "--when",
                             help="When: YYYY-MM-DD or YYYY-MM-DDTHH:MM in the business's time zone (default: now)."),
) -> None:
    """Record that customer CUSTOMER spoke of us."""
    from ravingfans.services import word_of_mouth as wom

    settings = context.settings()
    mention = wom.parse_mention({"kind": kind, "where": where, "url": url, "sentiment": sentiment, "note": note,
                                 "employee_id": employee, "occurred_at": when}, zone=settings.zone)
    db = context.database()
    try:
        with db.session(write=True) as session:
            entry = wom.add_mention(session, customer_id, mention)
    finally:
        db.dispose()
    stdout.print(f"Mention #{entry.id} recorded for #{entry.customer_id} {entry.customer_name}: {entry.kind_label}"
                 + (f" on {entry.where}" if entry.where else "") + (f" ({entry.sentiment})" if entry.sentiment else ""),
                 markup=False, highlight=False, soft_wrap=True)


def list_(
    customer: int | None = typer.Option(None, "--customer", help="Only this customer's mentions."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="How many, newest first (default 50)."),
) -> None:
    """List mentions, newest first: a header line, then one tab-separated line each."""
    from ravingfans.services import word_of_mouth as wom

    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            rows = wom.list_mentions(session, customer_id=customer, limit=limit)
    finally:
        db.dispose()
    if not rows:
        info("No mentions recorded.")
        return
    typer.echo("\t".join(MENTION_COLUMNS))
    for m in rows:
        day = m.occurred_at.astimezone(settings.zone).date().isoformat()
        cells = [f"#{m.id}", day, f"#{m.customer_id}", m.customer_name, m.kind, m.sentiment or "", m.where,
                 m.url or "", m.note, m.employee_name or ""]
        typer.echo("\t".join(" ".join(cell.split()) if cell else "" for cell in cells))


def advocates(
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="How many to list (default 50)."),
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", help="table (to read) or csv (to process)."),
) -> None:
    """List advocates: customers ranked by the revenue of the customers they referred."""
    from rich.table import Table

    from ravingfans.services import word_of_mouth as wom

    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            rows = wom.advocates(session, limit=limit)
    finally:
        db.dispose()
    if fmt is ListFormat.csv:
        sys.stdout.write(wom.advocates_csv(rows))
        sys.stdout.flush()
        return
    if not rows:
        info("No advocates yet: nobody has been recorded as referring a customer or praising us.")
        return
    table = Table("#", "id", "name", "referred", f"they spent ({settings.currency})",
                  f"their value ({settings.currency})", "mentions", "praise", title="Advocates")
    for r in rows:
        table.add_row(str(r.rank), f"#{r.customer_id}", r.name, str(r.referrals), f"{r.revenue:,.2f}",
                      "" if r.clv is None else f"{r.clv:,.2f}", str(r.mentions), str(r.praise))
    stdout.print(table, markup=False, highlight=False)
