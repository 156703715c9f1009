"""Who is asked: audiences for a survey, sending it by e-mail, one reminder, and personal links staff hand out.

An :class:`Audience` is a segment of the current scoring run, the slipping fans (as the slipping page
lists them), the current fans, the recent buyers (whose purchase was N days ago, or within a window
ending then), one customer, or an explicit list of customer ids (a saved filter). Erased customers are
never in an audience.

The rules of :func:`send_survey`, checked in this order for each customer (the first that applies is the
reason in the report): no usable e-mail address (``no_email``: none, or one no mail server would take), no
e-mail consent (``no_consent``: only ``Customer.email_consent is True`` gets marketing e-mail), already invited
to this survey (``already_invited``: one invitation per survey and customer), asked any survey within
``survey_interval_days`` (``asked_recently``), the address on the mail suppression list (``suppressed``).
A dry run reports the same counts and changes nothing.

Each invitation gets a personal link: a 256-bit token of which only the SHA-256 is kept, valid for
``survey_link_days`` or until the survey closes, whichever is first. The e-mail is queued in the same
transaction as the invitation with :func:`ravingfans.mail.enqueue` under the key
``survey:<survey>:invite:<customer>``, so a repeated send never queues twice. A reminder
(:func:`remind_due`) goes at most once, ``survey_reminder_days`` after the invitation, to e-mail
invitees who have not answered; it carries a NEW link (tokens are stored hashed, so the first cannot be
sent again) and the first link keeps working until it expires. Every invitation, reminder and link is
logged on the customer's timeline (kind ``other``, a note starting "Survey").
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db.models import Customer, CustomerScore, Interaction, Order
from ravingfans.db.models.surveys import Survey, SurveyInvitation, SurveyLink
from ravingfans.db.upsert import insert_for
from ravingfans.errors import Conflict, ValidationFailed
from ravingfans.i18n import best_language
from ravingfans.services.business import effective_settings, get_business
from ravingfans.services.common import get_customer
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.runs import require_run
from ravingfans.services.surveys import invitation_for, is_open, load_survey, new_token, translator

AUDIENCE_KINDS = ("segment", "slipping", "fans", "recent_buyers", "customer", "customers")
REASONS = ("sent", "no_email", "no_consent", "already_invited", "asked_recently", "suppressed", "not_found")
MAX_AUDIENCE_IDS = 100_000
MAX_DAYS = 3660
CHUNK = 500
QUEUED = frozenset({"queued", "duplicate"})  # what ravingfans.mail.enqueue answers when the message is (already) queued


@dataclass(frozen=True, slots=True)
class Audience:
    """Whom to ask; build one with the class methods (``Audience.segment_of("Champions")``...)."""

    kind: str
    segment: str | None = None
    days: int | None = None
    window_days: int = 1
    customer_ids: tuple[int, ...] = ()

    @classmethod
    def segment_of(cls, name: str) -> Audience:
        """Everyone in one segment of the current scoring run."""
        return cls(kind="segment", segment=name)

    @classmethod
    def slipping(cls) -> Audience:
        """The slipping fans of the current run (the slipping page's list)."""
        return cls(kind="slipping")

    @classmethod
    def fans(cls) -> Audience:
        """The current fans (the fan segments of the current run)."""
        return cls(kind="fans")

    @classmethod
    def recent_buyers(cls, days: int, window_days: int = 1) -> Audience:
        """Customers whose purchase was ``days`` days ago (or within ``window_days`` days ending then)."""
        return cls(kind="recent_buyers", days=days, window_days=window_days)

    @classmethod
    def customer(cls, customer_id: int) -> Audience:
        """One customer (from their profile)."""
        return cls(kind="customer", customer_ids=(customer_id,))

    @classmethod
    def customers(cls, ids: Iterable[int]) -> Audience:
        """An explicit list of customers (a saved filter)."""
        return cls(kind="customers", customer_ids=tuple(ids))

    @classmethod
    def from_file(cls, path: Path) -> Audience:
        """The customers listed in a CSV file (a saved filter: e.g. the fans list exported as CSV)."""
        return cls.customers(customer_ids_from_file(path))

    def describe(self) -> str:
        """The audience in words, for reports and logs."""
        if self.kind == "segment":
            return f"segment {self.segment}"
        if self.kind == "recent_buyers":
            if self.window_days > 1:
                return f"customers who bought {self.days}-{(self.days or 0) + self.window_days - 1} days ago"
            return f"customers who bought {self.days} days ago"
        if self.kind == "customer":
            return f"customer #{self.customer_ids[0]}"
        if self.kind == "customers":
            return f"{len(self.customer_ids)} chosen customers"
        return {"slipping": "slipping fans", "fans": "current fans"}.get(self.kind, self.kind)


@dataclass(frozen=True, slots=True)
class SendReport:
    """What a send did (or, in a dry run, would do): counts per reason and who was (would be) asked."""

    survey_id: int
    audience: str
    dry_run: bool
    counts: dict[str, int]
    customer_ids: tuple[int, ...] = ()

    @property
    def sent(self) -> int:
        """How many were (would be) invited."""
        return self.counts.get("sent", 0)

    def summary(self) -> list[str]:
        """The report in lines, for the CLI and pages."""
        verb = "Would send" if self.dry_run else "Sent"
        lines = [f"{verb} survey {self.survey_id} to {self.sent} of {sum(self.counts.values())} customers "
                 f"({self.audience})."]
        words = {"no_email": "no usable e-mail address", "no_consent": "no e-mail consent",
                 "already_invited": "already invited to this survey", "asked_recently": "asked recently",
                 "suppressed": "on the suppression list", "not_found": "unknown or erased"}
        lines += [f"  skipped, {words.get(k, k)}: {v}" for k, v in self.counts.items() if k != "sent" and v]
        return lines


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A personal link made for staff to hand over: the address and until when it works."""

    url: str
    token: str
    expires_at: datetime
    invitation_id: int


MAX_LISTED = 1_000_000
ID_COLUMNS = ("customer_id", "id")


def customer_ids_from_file(path: Path) -> list[int]:
    """Customer ids from a CSV file's ``customer_id`` (or ``id``) column, in order, each once.

    Any CSV with such a column works: the fans list exported from the web app, a spreadsheet saved as
    CSV, a query's output. Every bad value is reported with its line, and nothing is sent.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            column = next((header.index(c) for c in ID_COLUMNS if c in header), None)
            if column is None:
                raise ValidationFailed(f"{path}: no customer_id column (the header has {', '.join(header) or 'nothing'}).",
                                       field="customers_file",
                                       hint="Give a CSV whose header names a customer_id (or id) column.")
            ids: dict[int, None] = {}
            problems: list[str] = []
            for line, row in enumerate(reader, start=2):
                value = row[column].strip() if column < len(row) else ""
                if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ID:
                    ids[int(value)] = None
                elif value or any(cell.strip() for cell in row):
                    problems.append(f"line {line}: {value[:40]!r} is not a customer number")
                if len(ids) > MAX_LISTED:
                    raise ValidationFailed(f"{path}: more than {MAX_LISTED:,} customers; split the file.",
                                           field="customers_file")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValidationFailed(f"{path}: cannot be read as a UTF-8 CSV file ({exc}).", field="customers_file") from None
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValidationFailed(f"{path}: {shown}. Nothing was sent.", field="customers_file")
    if not ids:
        raise ValidationFailed(f"{path}: lists no customers.", field="customers_file")
    return list(ids)


# --- audiences --------------------------------------------------------------------------------------------------


def _live(session: Session, ids: Iterable[int]) -> list[int]:
    """The ids of customers that exist and are not erased, in order, once each."""
    wanted = sorted({i for i in ids if 1 <= i <= MAX_ID})
    found: list[int] = []
    for start in range(0, len(wanted), CHUNK):
        found += session.scalars(select(Customer.id).where(Customer.id.in_(wanted[start:start + CHUNK]),
                                                           Customer.erased_at.is_(None))).all()
    return sorted(found)


def _day_bounds(first: date, last: date, settings: Settings) -> tuple[datetime, datetime]:
    zone = settings.zone
    return datetime.combine(first, time.min, tzinfo=zone), datetime.combine(last + timedelta(days=1), time.min,
                                                                             tzinfo=zone)


def audience_customer_ids(session: Session, audience: Audience, *, settings: Settings,
                          clock: Clock = utcnow) -> tuple[list[int], int]:
    """The (non-erased) customers an audience names, and how many ids it named that are unknown or erased."""
    if audience.kind not in AUDIENCE_KINDS:
        raise ValidationFailed(f"Audience: must be one of {', '.join(AUDIENCE_KINDS)}", field="audience")
    if audience.kind in ("customer", "customers"):
        if not audience.customer_ids:
            raise ValidationFailed("Customers: name at least one customer", field="customer_ids")
        if len(audience.customer_ids) > MAX_AUDIENCE_IDS:
            raise ValidationFailed(f"Customers: at most {MAX_AUDIENCE_IDS} at a time", field="customer_ids")
        if audience.kind == "customer":
            return [get_customer(session, audience.customer_ids[0]).id], 0
        live = _live(session, audience.customer_ids)
        return live, len(set(audience.customer_ids)) - len(live)
    if audience.kind == "recent_buyers":
        days, window = audience.days, audience.window_days
        if days is None or not 0 <= days <= MAX_DAYS:
            raise ValidationFailed(f"Days after a purchase: a whole number from 0 to {MAX_DAYS}", field="days")
        if not 1 <= window <= 366:
            raise ValidationFailed("Window: from 1 to 366 days", field="window_days")
        today = clock().astimezone(settings.zone).date()
        last = today - timedelta(days=days)
        start, end = _day_bounds(last - timedelta(days=window - 1), last, settings)
        ids = session.scalars(select(Order.customer_id).distinct().where(
            Order.customer_id.is_not(None), Order.cancelled_at.is_(None),
            Order.placed_at >= start, Order.placed_at < end)).all()
        return _live(session, [i for i in ids if i is not None]), 0
    if audience.kind == "slipping":
        from ravingfans.services.insights import slipping  # the slipping page's own list (imports the analytics)

        _run, rows = slipping(session, limit=10_000_000)
        return _live(session, [row.customer_id for row in rows]), 0
    run = require_run(session)
    if audience.kind == "fans":
        from ravingfans.analytics.scoring import FAN_SEGMENTS

        segments: Sequence[str] = FAN_SEGMENTS
    else:
        name = (audience.segment or "").strip()
        known = sorted((run.segments or {}).keys()) or sorted(set(session.scalars(
            select(CustomerScore.segment).distinct().where(CustomerScore.run_id == run.id))))
        if name not in known:
            raise ValidationFailed(f"Segment: {name!r} is not a segment of the current scoring run; "
                                   f"choose from {', '.join(known) or '(none)'}", field="segment")
        segments = (name,)
    ids = session.scalars(select(CustomerScore.customer_id).where(CustomerScore.run_id == run.id,
                                                                  CustomerScore.segment.in_(segments))).all()
    return _live(session, ids), 0


# --- sending ----------------------------------------------------------------------------------------------------


def _customers(session: Session, ids: Sequence[int]) -> list[Customer]:
    rows: list[Customer] = []
    for start in range(0, len(ids), CHUNK):
        rows += session.scalars(select(Customer).where(Customer.id.in_(ids[start:start + CHUNK]))).all()
    return sorted(rows, key=lambda c: c.id)


def _ids_with(session: Session, stmt: Any, ids: Sequence[int], column: Any) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        found |= set(session.scalars(stmt.where(column.in_(ids[start:start + CHUNK]))).all())
    return found


def _link_expiry(survey: Survey, now: datetime, settings: Settings) -> datetime:
    expires = now + timedelta(days=settings.survey_link_days)
    return min(expires, survey.closes_at) if survey.closes_at is not None else expires


def _add_link(session: Session, invitation: SurveyInvitation, expires_at: datetime, now: datetime) -> str:
    token, digest = new_token()
    session.add(SurveyLink(token_hash=digest, invitation_id=invitation.id, created_at=now, expires_at=expires_at))
    invitation.expires_at = max(expires_at, invitation.expires_at) if invitation.expires_at else expires_at
    return token


def _log_many(session: Session, notes: Sequence[tuple[int, str]], channel: str, now: datetime) -> None:
    """Contact-log lines ``(customer_id, note)`` in one INSERT (a send may reach thousands)."""
    if notes:
        session.execute(insert(Interaction), [
            {"customer_id": customer_id, "occurred_at": now, "channel": channel, "kind": "other", "rating": None,
             "note": note, "created_at": now} for customer_id, note in notes])


def _log(session: Session, customer_id: int, channel: str, note: str, now: datetime) -> None:
    session.add(Interaction(customer_id=customer_id, occurred_at=now, channel=channel, kind="other", rating=None,
                            note=note, created_at=now))


def _mail_context(survey: Survey, customer: Customer, token: str, expires_at: datetime,
                  settings: Settings) -> dict[str, Any]:
    language = best_language(customer.language)
    return {"customer_first_name": (customer.first_name or "").strip(),
            "survey_title": translator(survey, language)(survey.title),
            "survey_url": f"{settings.public_url}/s/{token}", "business_name": settings.business_name,
            "expires_on": expires_at.astimezone(settings.zone).date()}


def _suppressed(session: Session, customers: Sequence[Customer]) -> set[int]:
    """Ids of customers whose address is on the mail suppression list."""
    from ravingfans.mail.unsubscribe import address_digest, suppressions

    listed = suppressions(session, [c.email for c in customers if c.email])
    return {c.id for c in customers if c.email and address_digest(c.email) in listed}


def _reason(customer: Customer, invited: set[int], recent: set[int], suppressed: set[int]) -> str:
    from ravingfans.mail.compose import can_send_to

    if not can_send_to(customer.email):  # none, or one no server would take: one bad address never stops a send
        return "no_email"
    if customer.email_consent is not True:
        return "no_consent"
    if customer.id in invited:
        return "already_invited"
    if customer.id in recent:
        return "asked_recently"
    if customer.id in suppressed:
        return "suppressed"
    return "sent"


def _write_invitations(session: Session, survey: Survey, queued: Sequence[tuple[Customer, str]],
                       expires_at: datetime, sent_by_user_id: int | None, now: datetime) -> None:
    """The invitations, their links (by token digest) and the contact-log lines of the customers whose e-mail was
    queued: a few multi-row INSERTs, not a few per customer (a survey may go to thousands at once)."""
    for start in range(0, len(queued), 500):
        chunk = queued[start:start + 500]
        # a link handed over or answers entered meanwhile may have made one already: then the e-mail's link joins it
        session.execute(insert_for(session, SurveyInvitation).on_conflict_do_nothing(
            index_elements=["survey_id", "customer_id"]), [
            {"survey_id": survey.id, "customer_id": customer.id, "channel": "email", "sent_at": now,
             "expires_at": expires_at, "sent_by": sent_by_user_id} for customer, _d in chunk])
        ids = dict(session.execute(select(SurveyInvitation.customer_id, SurveyInvitation.id).where(
            SurveyInvitation.survey_id == survey.id,
            SurveyInvitation.customer_id.in_([customer.id for customer, _d in chunk]))).all())
        session.execute(insert(SurveyLink), [
            {"token_hash": digest, "invitation_id": ids[customer.id], "created_at": now, "expires_at": expires_at}
            for customer, digest in chunk])
        _log_many(session, [(customer.id, f"Survey '{survey.name}' sent by e-mail") for customer, _d in chunk],
                  "email", now)


def send_survey(session: Session, survey_id: int, audience: Audience, *, settings: Settings, dry_run: bool = False,
                sent_by_user_id: int | None = None, clock: Clock = utcnow) -> SendReport:
    """Invite an audience to a survey by e-mail under the rules above; a dry run only counts."""
    survey = load_survey(session, survey_id, lock=not dry_run)  # two sends of one survey at once: one after the other
    now = clock()
    if not dry_run and not is_open(survey, now):
        raise Conflict(f"Survey {survey.id} is {survey.status if survey.status != 'open' else 'past its closing time'}"
                       "; only an open survey can be sent.", hint=f"Open it with: ravingfans survey open {survey.id}")
    shown = effective_settings(settings, get_business(session, settings))
    ids, unknown = audience_customer_ids(session, audience, settings=shown, clock=lambda: now)
    customers = _customers(session, ids)
    invited = _ids_with(session, select(SurveyInvitation.customer_id).where(SurveyInvitation.survey_id == survey.id),
                        ids, SurveyInvitation.customer_id)
    recent: set[int] = set()
    if settings.survey_interval_days > 0:
        since = now - timedelta(days=settings.survey_interval_days)
        recent = _ids_with(session, select(SurveyInvitation.customer_id).where(SurveyInvitation.sent_at > since),
                           ids, SurveyInvitation.customer_id)
    suppressed = _suppressed(session, [c for c in customers if c.email_consent is True])
    counts = dict.fromkeys(REASONS, 0)
    counts["not_found"] = unknown
    chosen: list[int] = []
    expires_at = _link_expiry(survey, now, settings)
    sending: list[tuple[Customer, str, str]] = []  # (customer, link token, its digest), queued below in one batch
    for customer in customers:
        reason = _reason(customer, invited, recent, suppressed)
        if reason == "sent" and not dry_run:
            token, digest = new_token()
            sending.append((customer, token, digest))
            continue
        counts[reason] = counts.get(reason, 0) + 1
        if reason == "sent":
            chosen.append(customer.id)
    if sending:
        from ravingfans.mail.outbox import Outgoing, enqueue_many

        results = enqueue_many(session, [Outgoing(
            key=f"survey:{survey.id}:invite:{customer.id}", customer_id=customer.id, to=customer.email or "",
            template="survey_invitation", context=_mail_context(survey, customer, token, expires_at, shown),
            language=best_language(customer.language), purpose="marketing") for customer, token, _d in sending],
            settings=shown, clock=lambda: now)
        queued: list[tuple[Customer, str]] = []
        for (customer, _t, digest), result in zip(sending, results, strict=True):
            if result.status in QUEUED:
                queued.append((customer, digest))
            else:  # consent or suppression changed since the audience was read
                counts[result.status if result.status in REASONS else "suppressed"] += 1
        _write_invitations(session, survey, queued, expires_at, sent_by_user_id, now)
        counts["sent"] += len(queued)
        sent_ids = {customer.id for customer, _d in queued}
        chosen = [c.id for c in customers if c.id in sent_ids]
    session.flush()
    return SendReport(survey_id=survey.id, audience=audience.describe(), dry_run=dry_run,
                      counts={k: v for k, v in counts.items() if v or k == "sent"}, customer_ids=tuple(chosen))


@dataclass(frozen=True, slots=True)
class RemindReport:
    """What a reminder run did (or would do): counts per reason and who was (would be) reminded."""

    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    customer_ids: tuple[int, ...] = ()

    @property
    def reminded(self) -> int:
        """How many were (would be) reminded."""
        return self.counts.get("sent", 0)


def remind_due(session: Session, *, settings: Settings, survey_id: int | None = None, dry_run: bool = False,
               clock: Clock = utcnow) -> RemindReport:
    """Remind, once, e-mail invitees who have not answered after ``survey_reminder_days`` (open surveys only)."""
    now = clock()
    due_before = now - timedelta(days=settings.survey_reminder_days)
    stmt = (select(SurveyInvitation, Survey, Customer)
            .join(Survey, Survey.id == SurveyInvitation.survey_id)
            .join(Customer, Customer.id == SurveyInvitation.customer_id)
            .where(SurveyInvitation.channel == "email", SurveyInvitation.answered_at.is_(None),
                   SurveyInvitation.reminded_at.is_(None), SurveyInvitation.sent_at <= due_before,
                   Survey.status == "open", Customer.erased_at.is_(None))
            .order_by(SurveyInvitation.id))
    if survey_id is not None:
        load_survey(session, survey_id)
        stmt = stmt.where(SurveyInvitation.survey_id == survey_id)
    rows = [(i, s, c) for i, s, c in session.execute(stmt) if is_open(s, now)]
    shown = effective_settings(settings, get_business(session, settings))
    suppressed = _suppressed(session, [c for _i, _s, c in rows if c.email_consent is True])
    counts = dict.fromkeys(("sent", "no_email", "no_consent", "suppressed"), 0)
    chosen: list[int] = []
    reminding: list[tuple[Survey, Customer, str, datetime]] = []  # queued below in one batch
    for invitation, survey, customer in rows:
        reason = _reason(customer, set(), set(), suppressed)
        if reason == "sent" and not dry_run:
            expires_at = _link_expiry(survey, now, settings)
            token = _add_link(session, invitation, expires_at, now)
            invitation.reminded_at = now  # also when the outbox refuses it: at most one try per invitation
            reminding.append((survey, customer, token, expires_at))
            continue
        counts[reason] = counts.get(reason, 0) + 1
        if reason == "sent":
            chosen.append(customer.id)
    if reminding:
        from ravingfans.mail.outbox import Outgoing, enqueue_many

        results = enqueue_many(session, [Outgoing(
            key=f"survey:{survey.id}:remind:{customer.id}", customer_id=customer.id, to=customer.email or "",
            template="survey_reminder", context=_mail_context(survey, customer, token, expires_at, shown),
            language=best_language(customer.language), purpose="marketing")
            for survey, customer, token, expires_at in reminding], settings=shown, clock=lambda: now)
        logged: list[tuple[int, str]] = []
        for (survey, customer, _t, _e), result in zip(reminding, results, strict=True):
            if result.status in QUEUED:
                counts["sent"] += 1
                chosen.append(customer.id)
                logged.append((customer.id, f"Survey '{survey.name}' reminder sent by e-mail"))
            else:
                counts["suppressed"] += 1
        _log_many(session, logged, "email", now)
    session.flush()
    return RemindReport(dry_run=dry_run, counts={k: v for k, v in counts.items() if v or k == "sent"},
                        customer_ids=tuple(chosen))


def issue_link(session: Session, survey_id: int, customer_id: int, *, settings: Settings,
               sent_by_user_id: int | None = None, clock: Clock = utcnow) -> IssuedLink:
    """A personal link for staff to hand over (by text message, on a receipt); no e-mail is sent.

    The frequency cap does not apply (staff ask this one customer on purpose). An existing invitation
    gets one more link; otherwise an invitation on the ``link`` channel is made.
    """
    survey = load_survey(session, survey_id)
    customer = get_customer(session, customer_id)
    now = clock()
    if not is_open(survey, now):
        raise Conflict(f"Survey {survey.id} is not open, so its link would not work.",
                       hint=f"Open it with: ravingfans survey open {survey.id}")
    invitation = invitation_for(session, survey.id, customer.id, channel="link", now=now, sent_by=sent_by_user_id)
    expires_at = _link_expiry(survey, now, settings)
    token = _add_link(session, invitation, expires_at, now)
    _log(session, customer.id, "other", f"Survey '{survey.name}' link given", now)
    session.flush()
    return IssuedLink(url=f"{settings.public_url}/s/{token}", token=token, expires_at=expires_at,
                      invitation_id=invitation.id)
