"""The outbox: e-mail queued with the business event that causes it, and drained by `ravingfans outbox send`.

:func:`enqueue` renders the message at once and inserts it in the CALLER's transaction (no commit), under
a unique ``key`` naming the business event, so the message exists exactly when the event does and the
same event never queues twice. :func:`send_pending` drains due messages.

What is guaranteed (see docs/mail.md):

- No message is lost: a row leaves ``pending``/``sending`` only once the SMTP server accepted it (``sent``),
  refused it for good (``bounced`` 5xx to the recipient, ``failed`` 5xx to the sender or too many
  temporary failures), or it may no longer be sent (``suppressed``, ``cancelled``).
- At most one delivery per Message-ID for a receiver that drops repeated Message-IDs. SMTP has no
  idempotency: if the sender dies after the server said 250 and before the mark was committed, the
  message is sent again after its lease runs out, byte-identical, with the SAME Message-ID (derived
  from the key). This is the only way a duplicate reaches the wire, and at most one message per crashed
  sender can be affected, because each mark is committed on its own right after the server's 250.
- A claimed message is leased (``next_attempt_at`` holds the lease's end while ``status`` is ``sending``);
  a sender never starts a message whose lease is about to run out, so a live sender and a recovering one
  never send the same row at once unless a sender is frozen longer than its lease.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Customer, OutboxMessage, UnsubscribeToken
from ravingfans.db.upsert import insert_for
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.i18n import best_language
from ravingfans.ingest.suppression import erased_emails
from ravingfans.mail.compose import (
    Envelope,
    as_wire,
    build_message,
    check_address,
    message_id_for,
    one_line,
    render,
    unsubscribe_mailto,
)
from ravingfans.mail.delivery import MailServerUnavailable, Outcome, SmtpTransport
from ravingfans.mail.unsubscribe import (
    BLOCKS_ALL,
    HARD_BOUNCE,
    address_digest,
    issue_tokens,
    suppress,
    suppressions,
    withdraw_email_consent,
)
from ravingfans.services.business import get_business

log = logging.getLogger(__name__)

Purpose = Literal["marketing", "service"]
EnqueueStatus = Literal["queued", "duplicate", "suppressed", "no_consent"]
MAX_KEY = 200
DEFAULT_LEASE_SECONDS = 300
DEFAULT_BATCH = 100
CHUNK = 500  # rows per IN list or multi-row INSERT (13 columns: well under SQLite's 32,766 variables)
DEFAULT_MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 60
RETRY_CAP_SECONDS = 6 * 3600


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """What :func:`enqueue` did: ``queued`` (a new row), ``duplicate`` (the key's existing row), or refused
    (``suppressed``/``no_consent``: no row is written and ``outbox_id`` is None)."""

    status: EnqueueStatus
    outbox_id: int | None


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or one_line(key, MAX_KEY) != key:
        raise ValidationFailed(f"key: an outbox key is 1 to {MAX_KEY} characters on one line, not {key!r}.",
                               field="key", hint="Name the business event, e.g. 'survey:12:invite:345'.")
    return key


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for :func:`enqueue_many`: the business event's key, who it is to, and what it says."""

    key: str
    customer_id: int | None
    to: str
    template: str
    context: Mapping[str, Any]
    language: str | None
    purpose: Purpose


@dataclass(frozen=True, slots=True)
class _Person:
    id: int
    first_name: str | None
    last_name: str | None
    language: str | None
    email_consent: bool | None
    erased_at: datetime | None


def _people(session: Session, ids: set[int]) -> dict[int, _Person]:
    """The customers named by a batch, the columns the checks and the greeting need (one query per 500)."""
    wanted = sorted(ids)
    found: dict[int, _Person] = {}
    for start in range(0, len(wanted), CHUNK):
        for row in session.execute(select(Customer.id, Customer.first_name, Customer.last_name, Customer.language,
                                          Customer.email_consent, Customer.erased_at)
                                   .where(Customer.id.in_(wanted[start:start + CHUNK]))):
            found[row.id] = _Person(*row)
    return found


def _existing(session: Session, keys: Sequence[str]) -> dict[str, int]:
    """The outbox ids already queued under any of these keys (one query per 500)."""
    found: dict[str, int] = {}
    for start in range(0, len(keys), CHUNK):
        found.update(session.execute(select(OutboxMessage.key, OutboxMessage.id)
                                     .where(OutboxMessage.key.in_(keys[start:start + CHUNK]))).all())
    return found


def _refusal(person: _Person | None, address: str, purpose: Purpose, listed: Mapping[str, str],
             erased: set[str]) -> EnqueueStatus | None:
    """Why this message may not be queued, or None: erased customer, suppressed address, missing consent."""
    if person is not None and person.erased_at is not None:
        return "suppressed"
    reason = listed.get(address_digest(address))
    if reason in BLOCKS_ALL:
        return "suppressed"
    if purpose == "marketing":
        if reason is not None or address in erased:
            return "suppressed"
        if person is None or person.email_consent is not True:
            return "no_consent"
    return None


def _checked(messages: Sequence[Outgoing]) -> list[str]:
    """Every message's address trimmed, after checking keys and purposes; ValidationFailed names the first bad one."""
    addresses = []
    for message in messages:
        _check_key(message.key)
        if message.purpose not in ("marketing", "service"):
            raise ValidationFailed(f"purpose: {message.purpose!r} is neither 'marketing' nor 'service'.",
                                   field="purpose")
        addresses.append(check_address(message.to, "to"))
    return addresses


def enqueue(session: Session, *, key: str, customer_id: int | None, to: str, template: str,
            context: Mapping[str, Any], language: str | None, purpose: Purpose, settings: Settings,
            clock: Clock = utcnow) -> EnqueueResult:
    """Render ``template`` now and queue it in the caller's transaction, once per ``key``.

    Marketing mail needs a customer whose ``email_consent`` is True and an address not on the suppression
    list; it carries the business's postal address and the unsubscribe link and headers (RFC 8058).
    Service mail is refused only to erased customers and hard-bounced addresses. A refusal writes nothing.
    """
    return enqueue_many(session, [Outgoing(key=key, customer_id=customer_id, to=to, template=template,
                                           context=context, language=language, purpose=purpose)],
                        settings=settings, clock=clock)[0]


def enqueue_many(session: Session, messages: Sequence[Outgoing], *, settings: Settings,
                 clock: Clock = utcnow) -> list[EnqueueResult]:
    """Queue many messages in the caller's transaction, each once per key, as :func:`enqueue` would one by one.

    The checks are made per batch (one query per 500 keys, customers and addresses) and the new rows go in
    with one INSERT per 500, so a restock or a campaign queues thousands of messages in seconds. A bad key,
    purpose or address, or an unknown customer, raises before anything is written; refusals (consent,
    suppression, erasure) and repeated keys come back as results, in the order of ``messages``.
    """
    if not messages:
        return []
    addresses = _checked(messages)
    results: list[EnqueueResult | None] = [None] * len(messages)
    existing = _existing(session, sorted({m.key for m in messages}))
    fresh = []
    for index, message in enumerate(messages):
        if message.key in existing:
            results[index] = EnqueueResult("duplicate", existing[message.key])
        else:
            fresh.append(index)
    if not fresh:
        return [r for r in results if r is not None]
    sender = check_address(settings.mail_from, "mail_from")
    people = _people(session, {messages[i].customer_id for i in fresh if messages[i].customer_id is not None})
    for i in fresh:
        if messages[i].customer_id is not None and messages[i].customer_id not in people:
            raise NotFound(f"There is no customer number {messages[i].customer_id}.")
    listed = suppressions(session, [addresses[i] for i in fresh])
    marketing = [addresses[i] for i in fresh if messages[i].purpose == "marketing"]
    erased = erased_emails(session, settings.secret_key.get_secret_value(), marketing) if marketing else set()
    business = get_business(session, settings)
    now = clock()
    go: list[tuple[int, _Person | None, str]] = []  # (index, customer, language) of the messages to write
    first_of_key: dict[str, int] = {}
    for i in fresh:
        message = messages[i]
        person = people.get(message.customer_id) if message.customer_id is not None else None
        refused = _refusal(person, addresses[i], message.purpose, listed, erased)
        if refused is not None:
            log.info("mail not queued (%s): key=%s customer_id=%s", refused, message.key, message.customer_id)
            results[i] = EnqueueResult(refused, None)
        elif message.key in first_of_key:  # the same key twice in one call: the first one is queued
            results[i] = EnqueueResult("duplicate", None)
        else:
            first_of_key[message.key] = i
            go.append((i, person, best_language(message.language if message.language else (
                person.language if person is not None else None))))
    if any(messages[i].purpose == "marketing" for i, _p, _c in go) and not business.address.strip():
        raise ValidationFailed("business_address: marketing e-mail must carry the business's postal address, "
                               "and none is set.", field="business_address",
                               hint="Set it on the settings page or with RAVINGFANS_BUSINESS_ADDRESS.")
    mailto = unsubscribe_mailto(sender)
    written: dict[str, int] = {}
    for start in range(0, len(go), CHUNK):  # rendered and written a chunk at a time: memory stays flat
        chunk = go[start:start + CHUNK]
        tokens = iter(issue_tokens(session, [(addresses[i], messages[i].customer_id, code) for i, _p, code in chunk
                                             if messages[i].purpose == "marketing"], clock=clock))
        rows = []
        for i, person, code in chunk:
            message = messages[i]
            url = f"{settings.public_url}/unsubscribe/{next(tokens)}" if message.purpose == "marketing" else None
            rendered = render(message.template, message.context, code, business_name=business.name,
                              business_address=business.address, unsubscribe_url=url)
            to_name = " ".join(p for p in (person.first_name, person.last_name) if p) if person is not None else ""
            message_id = message_id_for(message.key, sender)
            raw = as_wire(build_message(rendered, Envelope(
                from_name=business.name, from_address=sender, to_address=addresses[i], to_name=to_name,
                message_id=message_id, date=now, language=code, unsubscribe_url=url,
                unsubscribe_mailto=mailto if url else None)))
            rows.append({"key": message.key, "message_id": message_id, "customer_id": message.customer_id,
                         "to_address": addresses[i], "purpose": message.purpose, "template": message.template,
                         "language": code, "subject": rendered.subject, "raw": raw, "status": "pending",
                         "attempts": 0, "next_attempt_at": now, "created_at": now})
        # executemany with RETURNING: SQLAlchemy sends multi-row INSERTs from one cached statement.
        written.update(session.execute(
            insert_for(session, OutboxMessage).on_conflict_do_nothing(index_elements=["key"])
            .returning(OutboxMessage.key, OutboxMessage.id), rows).all())
    raced = _existing(session, [key for key in first_of_key if key not in written])  # queued by another meanwhile
    done: list[EnqueueResult] = []
    for i, result in enumerate(results):
        key = messages[i].key
        if result is None:  # written here, or by another transaction meanwhile
            result = EnqueueResult("queued", written[key]) if key in written else EnqueueResult(
                "duplicate", raced.get(key))
        elif result.status == "duplicate" and result.outbox_id is None:  # repeated within this call
            result = EnqueueResult("duplicate", written.get(key, raced.get(key)))
        done.append(result)
    return done


# ----------------------------------------------------------------------------------------------
# Sending
# ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SendReport:
    """What one :func:`send_pending` run did; ``error`` says why it stopped early (mail server down, bad login)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    bounced: int = 0
    failed: int = 0
    suppressed: int = 0
    cancelled: int = 0
    error: str | None = None
    config_error: bool = False
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        return (f"Sent {self.sent}; {self.retried} to retry later; {self.bounced} bounced; {self.failed} failed; "
                f"{self.suppressed} suppressed and {self.cancelled} cancelled before sending.")


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    customer_id: int | None
    to_address: str
    raw: str
    attempts: int


SessionSource = Database | Callable[[], Session]


def _writer(source: SessionSource) -> Callable[[], AbstractContextManager[Session]]:
    """Open one committed write transaction per call, from a Database or a session factory."""
    if isinstance(source, Database):
        return lambda: source.session(write=True)

    @contextmanager
    def opened() -> Iterator[Session]:
        session = source()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    return opened


def _claim(session: Session, *, size: int, now: datetime, lease_end: datetime, owner: str,
           report: SendReport) -> list[_Claimed]:
    """Lease up to ``size`` due messages (pending and due, or leased and expired) to ``owner``.

    Checked again here, at the last moment: an erased customer's mail is cancelled; a suppressed address,
    or marketing to a customer whose consent is gone, is suppressed, unsent.
    """
    due = (select(OutboxMessage.id).where(OutboxMessage.status.in_(("pending", "sending")),
                                          OutboxMessage.next_attempt_at <= now)
           .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(size))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)  # concurrent senders take different rows
    ids = list(session.scalars(due))
    if not ids:
        return []
    rows = session.execute(select(OutboxMessage.id, OutboxMessage.customer_id, OutboxMessage.to_address,
                                  OutboxMessage.purpose, OutboxMessage.raw, OutboxMessage.attempts)
                           .where(OutboxMessage.id.in_(ids))).all()
    customer_ids = {r.customer_id for r in rows if r.customer_id is not None}
    customers = {c.id: c for c in session.execute(select(Customer.id, Customer.erased_at, Customer.email_consent)
                                                  .where(Customer.id.in_(customer_ids)))} if customer_ids else {}
    listed = suppressions(session, [r.to_address for r in rows])
    go: list[_Claimed] = []
    stopped: dict[str, list[int]] = {"cancelled": [], "suppressed": []}
    order = {row_id: n for n, row_id in enumerate(ids)}
    for row in sorted(rows, key=lambda r: order[r.id]):
        person = customers.get(row.customer_id) if row.customer_id is not None else None
        reason = listed.get(address_digest(row.to_address))
        if person is not None and person.erased_at is not None or (row.purpose == "marketing" and person is None):
            stopped["cancelled"].append(row.id)
        elif reason in BLOCKS_ALL or (row.purpose == "marketing" and (
                reason is not None or person is None or person.email_consent is not True)):
            stopped["suppressed"].append(row.id)
        else:
            go.append(_Claimed(row.id, row.customer_id, row.to_address, row.raw, row.attempts + 1))
    for status, stopped_ids in stopped.items():
        if stopped_ids:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(stopped_ids)).values(
                status=status, lease_owner=None, last_error=f"{status} before sending (consent, suppression or "
                                                            "erasure)").execution_options(synchronize_session=False))
    report.cancelled += len(stopped["cancelled"])
    report.suppressed += len(stopped["suppressed"])
    if go:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([c.id for c in go])).values(
            status="sending", next_attempt_at=lease_end, lease_owner=owner, attempts=OutboxMessage.attempts + 1,
        ).execution_options(synchronize_session=False))
    report.claimed += len(rows)
    return go


def retry_delay(attempt: int, *, base: float = RETRY_BASE_SECONDS, cap: float = RETRY_CAP_SECONDS,
                rng: random.Random | None = None) -> timedelta:
    """Exponential back-off with jitter: ``base·2^(attempt-1)`` capped, then a random point in its upper half."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return timedelta(seconds=ceiling * (0.5 + 0.5 * (rng or random).random()))


def _mark(session: Session, claimed: _Claimed, outcome: Outcome, *, owner: str, now: datetime,
          max_attempts: int, retry_base: float, report: SendReport) -> None:
    """Record the server's verdict on one message (its own transaction, committed by the caller)."""
    row = update(OutboxMessage).where(OutboxMessage.id == claimed.id).execution_options(synchronize_session=False)
    said = f"{outcome.code} {outcome.detail}".strip() if outcome.code else outcome.detail
    if outcome.kind == "sent":
        # Whoever holds the lease now: the server has the message, so it is sent.
        session.execute(row.values(status="sent", sent_at=now, lease_owner=None, last_error=None))
        report.sent += 1
    elif outcome.kind == "bounce":
        session.execute(row.values(status="bounced", lease_owner=None, last_error=said[:1000]))
        suppress(session, claimed.to_address, reason=HARD_BOUNCE, clock=lambda: now)
        withdraw_email_consent(session, claimed.customer_id, source="hard bounce", wording=f"SMTP {said}"[:500],
                               clock=lambda: now)
        report.bounced += 1
    elif outcome.kind == "failed" or claimed.attempts >= max_attempts:
        session.execute(row.where(OutboxMessage.lease_owner == owner).values(
            status="failed", lease_owner=None, last_error=f"attempt {claimed.attempts}: {said}"[:1000]))
        report.failed += 1
    else:  # 4xx or a broken connection: later, further apart each time
        session.execute(row.where(OutboxMessage.lease_owner == owner, OutboxMessage.status == "sending").values(
            status="pending", lease_owner=None, last_error=f"attempt {claimed.attempts}: {said}"[:1000],
            next_attempt_at=now + retry_delay(claimed.attempts, base=retry_base)))
        report.retried += 1
    if outcome.kind != "sent":
        report.details.append(f"message #{claimed.id}: {outcome.kind} ({said})")


def _release(session: Session, rest: Sequence[_Claimed], *, owner: str, now: datetime) -> None:
    """Hand back claimed messages that were not tried: due again at once, the attempt not counted."""
    if rest:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([c.id for c in rest]),
                                                    OutboxMessage.lease_owner == owner,
                                                    OutboxMessage.status == "sending")
                        .values(status="pending", lease_owner=None, next_attempt_at=now,
                                attempts=OutboxMessage.attempts - 1).execution_options(synchronize_session=False))


def send_pending(database: SessionSource, settings: Settings, *, limit: int | None = None, clock: Clock = utcnow,
                 batch_size: int = DEFAULT_BATCH, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, retry_base_seconds: float = RETRY_BASE_SECONDS,
                 ) -> SendReport:
    """Send due messages (at most ``limit``) over one SMTP connection; what happened to them.

    Each batch is claimed (leased) and committed before the first SMTP command; each message's outcome is
    committed right after the server answers it. A broken connection retries that message later and opens a
    new one for the next; a mail server that cannot be reached (or refuses the login) stops the run
    (``report.error``) and hands the untried messages back, their attempt not counted.
    """
    if limit is not None and limit < 1:
        raise ValidationFailed("--limit: send at least 1 message (or leave it out to send all that are due).",
                               field="limit")
    if lease_seconds < 1:
        raise ValidationFailed("--lease-seconds: a lease lasts at least 1 second.", field="lease_seconds")
    writer = _writer(database)
    owner = uuid.uuid4().hex
    lease = timedelta(seconds=lease_seconds)
    # Never start a message that could still be in flight when the lease ends (then another sender may take it).
    margin = timedelta(seconds=min(2 * settings.smtp_timeout_seconds, lease_seconds / 2))
    transport = SmtpTransport(settings)
    report = SendReport()
    try:
        while limit is None or report.claimed < limit:
            now = clock()
            size = batch_size if limit is None else min(batch_size, limit - report.claimed)
            with writer() as session:
                before = report.claimed
                batch = _claim(session, size=size, now=now, lease_end=now + lease, owner=owner, report=report)
            if report.claimed == before:
                break  # nothing was due
            for index, claimed in enumerate(batch):
                if clock() + margin >= now + lease:
                    with writer() as session:
                        _release(session, batch[index:], owner=owner, now=clock())
                    break
                try:
                    outcome = transport.send(settings.mail_from, claimed.to_address, claimed.raw)
                except MailServerUnavailable as exc:
                    with writer() as session:
                        _release(session, batch[index:], owner=owner, now=clock())
                    report.error, report.config_error = str(exc), exc.config
                    log.warning("outbox: %s", exc)
                    return report
                # <- a crash here (after the server's 250, before this commit) resends the message after its lease
                #    runs out, with the same bytes and the same Message-ID, so a deduplicating receiver keeps one.
                with writer() as session:
                    _mark(session, claimed, outcome, owner=owner, now=clock(), max_attempts=max_attempts,
                          retry_base=retry_base_seconds, report=report)
    finally:
        transport.close()
    if report.claimed:
        log.info("outbox: %s", report.summary())
    return report


# ----------------------------------------------------------------------------------------------
# Looking at the outbox
# ----------------------------------------------------------------------------------------------


def outbox_counts(session: Session) -> dict[str, int]:
    """How many messages are in each status."""
    return {status: int(n) for status, n in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}


def list_outbox(session: Session, *, status: str | None = None, customer_id: int | None = None,
                limit: int = 50) -> list[OutboxMessage]:
    """The newest messages, optionally of one status or one customer (a customer's survey mail, for example)."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if customer_id is not None:
        stmt = stmt.where(OutboxMessage.customer_id == customer_id)
    return list(session.scalars(stmt))


def forget_customer(session: Session, customer_id: int) -> int:
    """Delete a customer's outbox rows and unsubscribe links (for erasure); the suppression list keeps its digests."""
    from sqlalchemy import delete

    gone = session.execute(delete(OutboxMessage).where(OutboxMessage.customer_id == customer_id)).rowcount or 0
    session.execute(delete(UnsubscribeToken).where(UnsubscribeToken.customer_id == customer_id))
    return int(gone)
