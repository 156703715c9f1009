"""`ravingfans outbox send|list|status`: drain the e-mail outbox and look at it.

`send` is what a cron job (or the worker of a later release) runs: it sends every due message over one
SMTP connection and exits 0; 1 when the mail server could not be reached, 2 when it refused the login or
STARTTLS (the untried messages stay queued for the next run either way).
"""

from __future__ import annotations

import sys

import typer

from ravingfans.cli import context
from ravingfans.cli.output import error, info


COLUMNS = ("id", "status", "tries", "customer", "to", "subject", "queued_utc", "sent_utc", "last_error")


def register(app: typer.Typer) -> None:
    """Add the `outbox` command group to the app."""
    outbox = typer.Typer(help="The e-mail outbox: send what is due, list messages, count them.", no_args_is_help=True)
    outbox.command("send")(send)
    outbox.command("list")(list_)
    outbox.command("status")(status)
    app.add_typer(outbox, name="outbox")


def send(
    limit: int | None = typer.Option(None, "--limit", min=1, help="Send at most this many messages."),
    lease_seconds: float = typer.Option(300.0, "--lease-seconds", min=1.0,
                                        help="How long a claimed message is held before another run may take it."),
) -> None:
    """Send the due messages of the outbox (retries included) through the SMTP server in the settings."""
    from ravingfans.mail.outbox import send_pending

    settings = context.settings()
    db = context.database()
    try:
        report = send_pending(db, settings, limit=limit, lease_seconds=lease_seconds)
    finally:
        db.dispose()
    for line in report.details[:20]:
        info(line)
    info(report.summary())
    if report.error:
        error(report.error + " The messages not tried stay queued for the next run.")
        sys.exit(2 if report.config_error else 1)


def list_(
    status: str | None = typer.Option(None, "--status", help="Only messages in this status (pending, sending, sent, "
                                                             "bounced, failed, suppressed, cancelled)."),
    customer: int | None = typer.Option(None, "--customer", min=1, help="Only messages to this customer number."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="How many of the newest messages to show."),
) -> None:
    """List the newest messages, one tab-separated line each: number, status, tries, customer, recipient, subject,
    when queued and sent (UTC) and what the server last said."""
    from ravingfans.db.models import OUTBOX_STATUSES
    from ravingfans.errors import ValidationFailed
    from ravingfans.mail.outbox import list_outbox

    if status is not None and status not in OUTBOX_STATUSES:
        raise ValidationFailed(f"--status: {status!r} is not a status; use one of {', '.join(OUTBOX_STATUSES)}.",
                               field="status")
    db = context.database()
    try:
        with db.session() as session:
            rows = [(f"#{m.id}", m.status, str(m.attempts), f"#{m.customer_id}" if m.customer_id else "",
                     m.to_address, m.subject, m.created_at.strftime("%Y-%m-%d %H:%M"),
                     m.sent_at.strftime("%Y-%m-%d %H:%M") if m.sent_at else "", m.last_error or "")
                    for m in list_outbox(session, status=status, customer_id=customer, limit=limit)]
    finally:
        db.dispose()
    if not rows:
        info("No messages.")
        return
    typer.echo("\t".join(COLUMNS))
    for row in rows:
        typer.echo("\t".join(cell.replace("\t", " ") for cell in row))


def status() -> None:
    """How many messages are in each status."""
    from ravingfans.mail.outbox import outbox_counts

    db = context.database()
    try:
        with db.session() as session:
            counts = outbox_counts(session)
    finally:
        db.dispose()
    if not counts:
        info("The outbox is empty.")
        return
    for name, count in sorted(counts.items()):
        typer.echo(f"{name}\t{count}")
