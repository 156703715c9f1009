"""`ravingfans survey list|open|close|send|remind|answer`: ask customers how we are doing, and record what they say.

Thin adapters over :mod:`ravingfans.services.surveys` and :mod:`ravingfans.services.survey_audiences`;
the rules (consent, frequency cap, one reminder) live there. E-mails are queued in the outbox, in the
same transaction as the invitations; `ravingfans outbox send` delivers them.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info, stdout
from ravingfans.errors import ValidationFailed


class AnswerChannel(StrEnum):
    """Where a customer gave the answers staff type in."""

    store = "store"
    phone = "phone"


def register(app: typer.Typer) -> None:
    """Add the `survey` command group to the app."""
    group = typer.Typer(help="Ask customers how we are doing and how we can do better.", no_args_is_help=True)
    group.command("list")(list_)
    group.command("open")(open_)
    group.command("close")(close)
    group.command("send")(send)
    group.command("remind")(remind)
    group.command("answer")(answer)
    app.add_typer(group, name="survey")


def list_() -> None:
    """List the surveys with their status, questions and how many were asked and answered."""
    from ravingfans.services.surveys import list_surveys

    db = context.database()
    try:
        with db.session(write=True) as session:
            surveys = list_surveys(session)
    finally:
        db.dispose()
    if not surveys:
        info("No surveys yet.")
    for s in surveys:
        closes = f" · closes {s.closes_at:%Y-%m-%d %H:%M} UTC" if s.closes_at else ""
        stdout.print(f"#{s.id} {s.name}{' (default)' if s.is_default else ''} · {s.status}{closes} · "
                     f"asked {s.invited} · answered {s.answered}", markup=False, highlight=False, soft_wrap=True)
        for q in s.questions:
            extra = f": {', '.join(q.options)}" if q.options else ""
            stdout.print(f"   {q.position}. {q.prompt} ({q.kind}{', required' if q.required else ''}){extra}",
                         markup=False, highlight=False, soft_wrap=True)


def open_(survey_id: int = typer.Argument(..., help="The survey to open.")) -> None:
    """Open a survey: it takes answers and can be sent."""
    from ravingfans.services.surveys import open_survey

    db = context.database()
    try:
        with db.session(write=True) as session:
            survey = open_survey(session, survey_id)
    finally:
        db.dispose()
    info(f"Survey {survey.id} ({survey.name}) is open.")


def close(survey_id: int = typer.Argument(..., help="The survey to close.")) -> None:
    """Close a survey: its links then say it has closed, and it takes no more answers."""
    from ravingfans.services.surveys import close_survey

    db = context.database()
    try:
        with db.session(write=True) as session:
            survey = close_survey(session, survey_id)
    finally:
        db.dispose()
    info(f"Survey {survey.id} ({survey.name}) is closed.")


def send(
    survey_id: int | None = typer.Option(None, "--survey", help="The survey to send (default: the default survey)."),
    segment: str | None = typer.Option(None, "--segment", help="Everyone in this segment of the current scoring run."),
    slipping: bool = typer.Option(False, "--slipping", help="The slipping fans (as the slipping page lists them)."),
    fans: bool = typer.Option(False, "--fans", help="The current fans (the fan segments of the current run)."),
    recent_buyers_days: int | None = typer.Option(
        None, "--recent-buyers-days", help="Customers whose purchase was N days ago (in the business's time zone)."),
    window_days: int = typer.Option(
        1, "--window-days", help="With --recent-buyers-days: purchases within this many days ending N days ago."),
    customer: list[int] = typer.Option([], "--customer", help="A customer id; repeat for a list of customers."),
    customers_file: Path | None = typer.Option(
        None, "--customers-file", help="A CSV with a customer_id column (e.g. the fans list exported as CSV)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count who would be asked, and why others would not."),
) -> None:
    """Send a survey by e-mail to one audience: consent, the frequency cap and one invitation per survey apply."""
    from ravingfans.services.survey_audiences import Audience, send_survey
    from ravingfans.services.surveys import default_survey

    chosen = [name for name, given in (("--segment", segment is not None), ("--slipping", slipping), ("--fans", fans),
                                       ("--recent-buyers-days", recent_buyers_days is not None),
                                       ("--customer", bool(customer)),
                                       ("--customers-file", customers_file is not None)) if given]
    if len(chosen) != 1:
        raise ValidationFailed("Choose exactly one audience: --segment NAME, --slipping, --fans, "
                               "--recent-buyers-days N, --customer ID or --customers-file FILE" + (f" (got {', '.join(chosen)})" if chosen
                                                                            else ""), field="audience")
    if segment is not None:
        audience = Audience.segment_of(segment)
    elif slipping:
        audience = Audience.slipping()
    elif fans:
        audience = Audience.fans()
    elif recent_buyers_days is not None:
        audience = Audience.recent_buyers(recent_buyers_days, window_days)
    elif customers_file is not None:
        audience = Audience.from_file(customers_file)
    else:
        audience = Audience.customer(customer[0]) if len(customer) == 1 else Audience.customers(customer)
    settings = context.settings()
    db = context.database()
    try:
        with db.session(write=True) as session:
            target = survey_id if survey_id is not None else default_survey(session).id
            report = send_survey(session, target, audience, settings=settings, dry_run=dry_run)
    finally:
        db.dispose()
    for line in report.summary():
        stdout.print(line, markup=False, highlight=False, soft_wrap=True)
    if report.sent and not dry_run:
        info("The e-mails are in the outbox; deliver them with: ravingfans outbox send")


def remind(
    survey_id: int | None = typer.Option(None, "--survey", help="Only this survey (default: every open survey)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count who would be reminded."),
) -> None:
    """Remind, once, those invited by e-mail who have not answered after the reminder delay."""
    from ravingfans.services.survey_audiences import remind_due

    settings = context.settings()
    db = context.database()
    try:
        with db.session(write=True) as session:
            report = remind_due(session, settings=settings, survey_id=survey_id, dry_run=dry_run)
    finally:
        db.dispose()
    verb = "Would remind" if dry_run else "Reminded"
    stdout.print(f"{verb} {report.reminded} customer(s).", markup=False, highlight=False)
    for reason, count in report.counts.items():
        if reason != "sent" and count:
            stdout.print(f"  skipped, {reason.replace('_', ' ')}: {count}", markup=False, highlight=False)


def _answers(questions: tuple, nps: int | None, text: str | None, pairs: list[str]) -> dict[str, object]:
    """The typed answers keyed by question field: --nps and --text fill the first such question."""
    answers: dict[str, object] = {}
    by_position = {q.position: q for q in questions}
    for pair in pairs:
        number, sep, value = pair.partition("=")
        if not sep or not number.strip().isdigit() or int(number) not in by_position:
            raise ValidationFailed(f"--answer {pair!r}: write QUESTION=VALUE with a question number from 1 to "
                                   f"{len(questions)}, e.g. --answer 2=\"More sizes\"", field="answer")
        q = by_position[int(number)]
        answers[q.field] = [v.strip() for v in value.split(",")] if q.kind == "rank" else value
    for kind, value in (("nps", nps), ("text", text)):
        if value is None:
            continue
        q = next((q for q in questions if q.kind == kind), None)
        if q is None:
            raise ValidationFailed(f"--{kind}: this survey has no {kind} question; use --answer N=VALUE",
                                   field=kind)
        answers[q.field] = str(value)
    return answers


def answer(
    customer_id: int = typer.Argument(..., help="The customer who answered."),
    survey_id: int | None = typer.Option(None, "--survey", help="The survey (default: the default survey)."),
    channel: AnswerChannel = typer.Option(AnswerChannel.store, "--channel", help="store or phone."),
    nps: int | None = typer.Option(None, "--nps", help="The 0-10 answer to \"How are we doing?\"."),
    text: str | None = typer.Option(None, "--text", help="The open answer to \"How can we do better?\"."),
    pairs: list[str] = typer.Option([], "--answer", help="QUESTION=VALUE for any question by its number; "
                                                         "a ranking as comma-separated choices. Repeatable."),
    user: str | None = typer.Option(None, "--user", help="The e-mail of the user entering it (kept on the answer)."),
    employee: int | None = typer.Option(None, "--employee", help="The employee who served (default: from orders)."),
) -> None:
    """Record the answers a customer gave in store or by phone (replacing earlier ones while the survey is open)."""
    from sqlalchemy import select

    from ravingfans.db.models import User
    from ravingfans.services.surveys import default_survey, get_survey, record_answers_for_customer

    db = context.database()
    try:
        with db.session(write=True) as session:
            target = survey_id if survey_id is not None else default_survey(session).id
            survey = get_survey(session, target)
            user_id = None
            if user is not None:
                user_id = session.scalar(select(User.id).where(User.email == user.strip().lower()))
                if user_id is None:
                    raise ValidationFailed(f"--user: there is no user {user!r}", field="user",
                                           hint="List them with: ravingfans user list")
            result = record_answers_for_customer(session, survey.id, customer_id,
                                                 _answers(survey.questions, nps, text, pairs), user_id,
                                                 channel.value, employee_id=employee)
    finally:
        db.dispose()
    verb = "Changed" if result.changed else "Recorded"
    info(f"{verb} customer {result.customer_id}'s answers to survey {result.survey_id} ({channel.value}).")
