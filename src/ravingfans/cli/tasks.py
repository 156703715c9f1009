"""`ravingfans rules list|enable|disable|set|run` and `ravingfans tasks [list|done|snooze|reassign|dismiss]`.

Thin adapters over :mod:`ravingfans.services.rules` and :mod:`ravingfans.services.tasks`: the rules (what a
rule finds, one task per reason, who owns it) live there. Days are the business's calendar days (its time zone).
"""

from __future__ import annotations

import csv
import re
import sys
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info, stdout
from ravingfans.errors import ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ravingfans.config import Settings
    from ravingfans.services.rules import RuleInfo


E164 = re.compile(r"^\+[1-9]\d{5,14}$")  # a phone number as stored: safe in a spreadsheet as it is


class ListFormat(StrEnum):
    """How `tasks` prints its list."""

    table = "table"
    csv = "csv"


class Rating(StrEnum):
    """How a call went."""

    magic = "magic"
    mediocre = "mediocre"
    misery = "misery"


class Channel(StrEnum):
    """How the task was done, when not the usual (a phone call for calls)."""

    phone = "phone"
    store = "store"
    email = "email"
    other = "other"


def register(app: typer.Typer) -> None:
    """Add the `rules` and `tasks` command groups to the app."""
    rules_app = typer.Typer(help="Follow-up rules: switch them on or off, tune them, run them now.",
                            no_args_is_help=True)
    rules_app.command("list")(rules_list)
    rules_app.command("enable")(rules_enable)
    rules_app.command("disable")(rules_disable)
    rules_app.command("set")(rules_set)
    rules_app.command("run")(rules_run)
    app.add_typer(rules_app, name="rules")
    tasks_app = typer.Typer(help="Tasks for people: list them (the default), and mark them done, snoozed, "
                                 "reassigned or dismissed.")
    tasks_app.callback(invoke_without_command=True)(tasks_default)
    tasks_app.command("list")(tasks_list)
    tasks_app.command("done")(done)
    tasks_app.command("snooze")(snooze)
    tasks_app.command("reassign")(reassign)
    tasks_app.command("dismiss")(dismiss)
    app.add_typer(tasks_app, name="tasks")


def _business(session: Session, settings: Settings) -> Settings:
    from ravingfans.services.business import effective_settings, get_business

    return effective_settings(settings, get_business(session, settings))


def _today(session: Session, settings: Settings) -> date:
    from ravingfans.clock import utcnow

    return utcnow().astimezone(_business(session, settings).zone).date()


# --- rules --------------------------------------------------------------------------------------------------------


def rules_list() -> None:
    """List the follow-up rules: switched on or off, their tuning and when they last ran."""
    from rich.table import Table

    from ravingfans.services.rules import list_rules

    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            found = list_rules(session)
            shown = _business(session, settings)
    finally:
        db.dispose()
    table = Table("rule", "on", "settings", "last run", "what it does", title="Follow-up rules")
    for rule in found:
        last = rule.last_evaluated_at.astimezone(shown.zone).strftime("%Y-%m-%d %H:%M") \
            if rule.last_evaluated_at else "never"
        table.add_row(rule.name, "on" if rule.enabled else "off", rule.describe_params(shown.currency), last,
                      rule.spec.description)
    stdout.print(table, markup=False, highlight=False)


def _update_rule(name: str, **changes: Any) -> tuple[RuleInfo, str]:
    """Change a rule (switch or settings) in one transaction; the rule as saved, and its settings in words."""
    from ravingfans.services.rules import update_rule

    settings = context.settings()
    db = context.database()
    try:
        with db.session(write=True) as session:
            rule = update_rule(session, name, **changes)
            return rule, rule.describe_params(_business(session, settings).currency)
    finally:
        db.dispose()


def _switch(name: str, enabled: bool) -> None:
    rule, described = _update_rule(name, enabled=enabled)
    info(f"Rule {rule.name} is switched {'on' if enabled else 'off'} ({described}).")


def rules_enable(name: str = typer.Argument(..., help="The rule, e.g. courtesy_call (see `ravingfans rules list`).")
                 ) -> None:
    """Switch a follow-up rule on: the next pass (the worker, or `rules run`) makes its tasks."""
    _switch(name, True)


def rules_disable(name: str = typer.Argument(..., help="The rule to switch off.")) -> None:
    """Switch a follow-up rule off: it makes no new tasks (the tasks it made stay)."""
    _switch(name, False)


def rules_set(
    name: str = typer.Argument(..., help="The rule to tune."),
    values: list[str] = typer.Argument(..., metavar="KEY=VALUE...",
                                       help="New settings, e.g. days=10 or min_amount=100 (blank or 'any' clears)."),
) -> None:
    """Tune a follow-up rule: `ravingfans rules set courtesy_call days=10 category=Shoes`."""
    changes: dict[str, str] = {}
    for pair in values:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationFailed(f"{pair!r}: write KEY=VALUE, e.g. days=10 (see `ravingfans rules list`).",
                                   field="values")
        changes[key.strip()] = value
    rule, described = _update_rule(name, params=changes)
    info(f"Rule {rule.name} ({'on' if rule.enabled else 'off'}): {described}.")


def rules_run(only: str | None = typer.Option(None, "--only", help="Run just this rule (it must be switched on).")
              ) -> None:
    """Run the switched-on rules now and print how many tasks each made (the worker does this on a schedule)."""
    from ravingfans.services.rules import evaluate_rules

    settings = context.settings()
    db = context.database()
    try:
        with db.session(write=True) as session:
            report = evaluate_rules(session, settings, only=only)
    finally:
        db.dispose()
    stdout.print(report.summary(), markup=False, highlight=False, soft_wrap=True)


# --- tasks --------------------------------------------------------------------------------------------------------

OWNER_HELP = "Only this employee's tasks (their e-mail address); 'none' for the unowned ones. Default: everyone's."
DUE_HELP = "Tasks due by this day, YYYY-MM-DD (default: today); 'any' for every open task."
FORMAT_HELP = "table (to read) or csv (to process)."


def tasks_default(
    ctx: typer.Context,
    owner: str | None = typer.Option(None, "--owner", help=OWNER_HELP),
    due_by: str | None = typer.Option(None, "--due-by", help=DUE_HELP),
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", help=FORMAT_HELP),
) -> None:
    """Tasks for people: with no command, list the open tasks due by today (as `tasks list`)."""
    if ctx.invoked_subcommand is None:
        _list(owner, due_by, fmt, "open", 200)
    elif owner is not None or due_by is not None or fmt is not ListFormat.table:
        raise ValidationFailed(f"Put the options after the command: ravingfans tasks {ctx.invoked_subcommand} "
                               "[OPTIONS] (--owner, --due-by and --format before it only go with the bare list).",
                               field="options")


def tasks_list(
    owner: str | None = typer.Option(None, "--owner", help=OWNER_HELP),
    due_by: str | None = typer.Option(None, "--due-by", help=DUE_HELP),
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", help=FORMAT_HELP),
    status: str = typer.Option("open", "--status", help="open (default), snoozed, done, dismissed or all."),
    limit: int = typer.Option(200, "--limit", min=1, help="How many to list at most."),
) -> None:
    """List tasks, soonest due first and then by the customer's value."""
    _list(owner, due_by, fmt, status, limit)


def _list(owner: str | None, due_by: str | None, fmt: ListFormat, status: str, limit: int) -> None:
    from ravingfans.ingest.export import neutralize
    from ravingfans.services.tasks import find_employee, list_tasks, parse_day

    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            today = _today(session, settings)
            shown = _business(session, settings)
            wanted = owner.strip().lower() if owner else ""
            owner_id = find_employee(session, owner).id if owner and wanted not in ("none", "all") else None
            if due_by is None:
                until: date | None = today
            else:
                until = None if due_by.strip().lower() == "any" else parse_day(due_by, "--due-by", "due_by")
            rows = list_tasks(session, today=today, owner_id=owner_id, unowned=wanted == "none", due_by=until,
                              status=status, limit=limit)
    finally:
        db.dispose()
    if fmt is ListFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["task_id", "due_on", "customer_id", "customer", "phone", "rule", "kind", "reason", "owner",
                         "value", "status"])
        for t in rows:
            phone = t.phone or ""
            writer.writerow([t.id, t.due.isoformat(), t.customer_id, neutralize(t.customer_name),
                             phone if E164.match(phone) else neutralize(phone), t.rule, t.kind, neutralize(t.reason),
                             neutralize(t.owner_name or ""), f"{t.priority:.2f}", t.status])
        sys.stdout.flush()
        return
    if not rows:
        info("No tasks" + (f" due by {until.isoformat()}" if until else "") + ".")
        return
    from rich.table import Table

    table = Table("task", "due", "customer", "phone", "why", "owner", f"value ({shown.currency})",
                  title=f"Tasks due by {until.isoformat()}" if until else "Tasks")
    for t in rows:
        due = t.due.isoformat() + (" (late)" if t.due < today else "")
        table.add_row(f"#{t.id}", due, f"{t.customer_name} (#{t.customer_id})", t.phone or "", t.reason,
                      t.owner_name or "—", f"{t.priority:,.2f}")
    stdout.print(table, markup=False, highlight=False)
    info(f"{len(rows)} task(s). Done one with: ravingfans tasks done ID --rating magic --note '...'")


def done(
    task_id: int = typer.Argument(..., help="The task's number (see `ravingfans tasks`)."),
    rating: Rating | None = typer.Option(None, "--rating", help="How it went: magic, mediocre or misery."),
    note: str = typer.Option("", "--note", help="What was said (a line; it goes on the customer's timeline)."),
    channel: Channel | None = typer.Option(None, "--channel",
                                           help="How it was done, if not the usual (phone for calls)."),
) -> None:
    """Mark a task done: a moment of truth is logged on the customer's timeline (a call by phone)."""
    from ravingfans.services.tasks import complete_task

    db = context.database()
    try:
        with db.session(write=True) as session:
            task = complete_task(session, task_id, rating=rating.value if rating else None, note=note,
                                 channel=channel.value if channel else None)
    finally:
        db.dispose()
    info(f"Task #{task.id} done; moment of truth #{task.interaction_id} logged for {task.customer_name}.")


def snooze(
    task_id: int = typer.Argument(..., help="The task's number."),
    until: str | None = typer.Option(None, "--until", help="The day it comes back, YYYY-MM-DD."),
    days: int | None = typer.Option(None, "--days", min=1, help="Or: in this many days."),
) -> None:
    """Put a task away until a later day; it is open again on that day."""
    from ravingfans.services.tasks import parse_day, snooze_task

    if (until is None) == (days is None):
        raise ValidationFailed("Say when it comes back: --until YYYY-MM-DD or --days N (one of them).",
                               field="until")
    settings = context.settings()
    db = context.database()
    try:
        with db.session(write=True) as session:
            zone = _business(session, settings).zone
            day = parse_day(until, "--until", "until") if until is not None else \
                _today(session, settings) + timedelta(days=days or 0)
            task = snooze_task(session, task_id, day, zone=zone)
    finally:
        db.dispose()
    info(f"Task #{task.id} snoozed until {day.isoformat()}.")


def reassign(
    task_id: int = typer.Argument(..., help="The task's number."),
    to: str | None = typer.Option(None, "--to", help="The employee's e-mail address."),
    nobody: bool = typer.Option(False, "--nobody", help="Leave it unowned, for whoever has a quiet hour."),
) -> None:
    """Give a task to another member of staff (or to nobody)."""
    from ravingfans.services.tasks import find_employee, reassign_task

    if (to is None) == (not nobody):
        raise ValidationFailed("Say who takes it: --to EMAIL or --nobody (one of them).", field="to")
    db = context.database()
    try:
        with db.session(write=True) as session:
            employee_id = find_employee(session, to).id if to is not None else None
            task = reassign_task(session, task_id, employee_id)
    finally:
        db.dispose()
    info(f"Task #{task.id} is now {task.owner_name + chr(39) + 's' if task.owner_name else 'unowned'}.")


def dismiss(
    task_id: int = typer.Argument(..., help="The task's number."),
    note: str = typer.Option("", "--note", help="Why it no longer needs doing."),
) -> None:
    """Close a task that no longer needs doing (nothing goes on the timeline)."""
    from ravingfans.services.tasks import dismiss_task

    db = context.database()
    try:
        with db.session(write=True) as session:
            task = dismiss_task(session, task_id, note=note)
    finally:
        db.dispose()
    info(f"Task #{task.id} dismissed.")
