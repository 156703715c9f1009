"""Erasing a customer (the right to erasure, GDPR Art. 17): the person goes, the business's numbers stay.

:func:`erase_customer` is the one way in (the profile page, the API and the CLI call it). In the caller's
single transaction, so a failure or a kill leaves all or nothing, it:

- keeps the customer row as a tombstone, shown as "Erased customer #N", with every personal field
  cleared (names, e-mail, phone, postal address, birthday, language, personal details, the record's
  note, likes, dislikes, sizes, attributes, tags, consent, the source id) and ``erased_at``/``erased_by`` set;
- deletes their source ids (``customer_identities``): nothing leads back to the tombstone, so a later
  import or API create of the same person makes a NEW customer;
- deletes their notes and consent records; keeps their moments of truth with the note text cleared
  (channel, kind, rating, time and who served stay, for the team's numbers);
- keeps their orders and order lines, linked to the tombstone (revenue history);
- deletes their score rows from every run (derived data) and takes them out of each run's counts;
- clears referral links both ways, and drops the stored answers of API creates that held their data;
- deletes their queued and sent e-mail and unsubscribe links (the unsubscribe list keeps its digests),
  their personal survey links and the words of their survey answers (the 0-10 scores stay and count);
- keeps a suppression marker: a keyed hash (HMAC-SHA256 under a key derived from the secret key) of
  the normalised e-mail and phone, with no customer id or time, so a new record of the same address
  starts without marketing consent (see :mod:`ravingfans.ingest.suppression`). Rotating
  ``RAVINGFANS_SECRET_KEY`` makes the markers made before unmatchable.

Erased customers are left out of lists, search, the Home counts and new scoring runs; looking one up
by id is NotFound; erasing one again (or asking what it would do) is a Conflict. Logs name ids only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import (
    Consent,
    Customer,
    CustomerIdentity,
    CustomerScore,
    ErasureSuppression,
    Hold,
    IdempotencyKey,
    Interaction,
    Mention,
    Note,
    Order,
    ScoreRun,
    StockWait,
    SurveyInvitation,
    SurveyLink,
    SurveyResponse,
    Task,
    User,
)
from ravingfans.db.locks import IMPORT_MERGE
from ravingfans.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from ravingfans.ingest.suppression import suppression_digests
from ravingfans.mail.outbox import forget_customer
from ravingfans.services.inputs import MAX_ID

log = logging.getLogger(__name__)

# Stored API answers that hold a customer's data: creates of customers (by id) and of moments (by customer).
_REPLAY_KEYS = {"customers": "id", "interactions": "customer_id"}
# Every personal field of a customer and its cleared value; the tombstone keeps id, source and times only.
_CLEARED: dict[str, object] = {
    "first_name": None, "last_name": None, "email": None, "phone": None, "address_line1": None,
    "address_line2": None, "city": None, "region": None, "postal_code": None, "country": None, "birthday": None,
    "language": None, "personal_details": {}, "likes": [], "dislikes": [], "sizes": {}, "attributes": {}, "tags": [],
    "notes": None, "email_consent": None, "referred_by_id": None, "external_id": None,
}


@dataclass(frozen=True, slots=True)
class ErasurePlan:
    """What erasing a customer would remove and keep: the confirm page and the CLI show it first."""

    customer_id: int
    name: str
    has_contact: bool  # an e-mail or phone that a suppression marker will remember (hashed)
    notes: int
    moments: int
    consents: int
    identities: int
    scores: int
    referrals: int
    orders: int
    revenue: Decimal

    def summary(self) -> list[str]:
        """The plan in plain lines."""
        return [
            f"Erase customer #{self.customer_id} ({self.name}):",
            "  removed: name, contact, address, birthday, language, personal details, likes, dislikes, sizes, "
            "tags and the record's note",
            f"  removed: {self.notes} note(s), {self.consents} consent record(s), {self.identities} source id(s), "
            f"{self.scores} score row(s), {self.referrals} referral link(s)",
            f"  kept without their text: {self.moments} moment(s) of truth (ratings and times stay)",
            f"  kept: {self.orders} order(s), {self.revenue} net revenue, linked to 'Erased customer "
            f"#{self.customer_id}'",
        ]


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure did."""

    customer_id: int
    erased_at: datetime
    erased_by: int | None
    notes_deleted: int
    moments_cleared: int
    consents_deleted: int
    identities_deleted: int
    scores_deleted: int
    referrals_cleared: int
    replays_deleted: int
    orders_kept: int
    suppression_markers: int
    follow_ups_deleted: int = 0  # tasks, stock waits, holds and mentions: each names what the person did or wants

    def summary(self) -> list[str]:
        """The report in plain lines."""
        return [
            f"Customer #{self.customer_id} erased: personal data cleared; {self.notes_deleted} note(s), "
            f"{self.consents_deleted} consent record(s), {self.identities_deleted} source id(s), "
            f"{self.scores_deleted} score row(s) and {self.follow_ups_deleted} task(s), stock wait(s), hold(s) "
            f"and mention(s) deleted; {self.referrals_cleared} referral link(s) cleared.",
            f"Kept: {self.orders_kept} order(s) and {self.moments_cleared} moment(s) of truth (without their text); "
            f"{self.suppression_markers} suppression marker(s) for the e-mail and phone.",
        ]


# ----------------------------------------------------------------------------------------------
# Suppression markers (the digests are made in ravingfans.ingest.suppression)
# ----------------------------------------------------------------------------------------------


def _remember(session: Session, digests: list[str]) -> int:
    """Store the markers (one already there, from another erased record, is left as is); how many."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for digest in digests:
        session.execute(insert(ErasureSuppression).values(digest=digest).on_conflict_do_nothing())
    return len(digests)


# ----------------------------------------------------------------------------------------------
# Erasure
# ----------------------------------------------------------------------------------------------


def _count(session: Session, model: type[Any], customer_id: int) -> int:
    """How many rows of ``model`` belong to the customer."""
    return int(session.scalar(select(func.count()).select_from(model).where(model.customer_id == customer_id)) or 0)


def _referrals(session: Session, customer_id: int, referred_by_id: int | None) -> int:
    """Referral links both ways: whom they referred, and who referred them."""
    referred = int(session.scalar(select(func.count()).select_from(Customer)
                                  .where(Customer.referred_by_id == customer_id)) or 0)
    return referred + (1 if referred_by_id is not None else 0)


def preview_erasure(session: Session, customer_id: int) -> ErasurePlan:
    """What erasing this customer would remove and keep; NotFound when unknown, Conflict when erased already."""
    customer = _load(session, customer_id, lock=False)
    cid = customer.id
    revenue = session.scalar(select(func.sum(Order.total)).where(Order.customer_id == cid,
                                                                 Order.cancelled_at.is_(None)))
    return ErasurePlan(
        customer_id=cid, name=customer.display_name, has_contact=bool(customer.email or customer.phone),
        notes=_count(session, Note, cid), moments=_count(session, Interaction, cid),
        consents=_count(session, Consent, cid), identities=_count(session, CustomerIdentity, cid),
        scores=_count(session, CustomerScore, cid), referrals=_referrals(session, cid, customer.referred_by_id),
        orders=_count(session, Order, cid), revenue=revenue if revenue is not None else Decimal("0.00"),
    )


def check_confirmation(customer_id: int, typed: str) -> None:
    """ValidationFailed unless ``typed`` is the customer's number (the form's deliberate second step)."""
    if typed.strip().removeprefix("#").strip() != str(customer_id):
        raise ValidationFailed(f"Confirm: type the customer's number, {customer_id}, to erase them.", field="confirm",
                               hint="Nothing was erased.")


def _load(session: Session, customer_id: int, *, lock: bool) -> Customer:
    """The customer row (locked for the erasure); NotFound when unknown, Conflict when erased already."""
    customer = None
    if 1 <= customer_id <= MAX_ID:
        stmt = select(Customer).where(Customer.id == customer_id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        customer = session.scalars(stmt).one_or_none()
    if customer is None:
        raise NotFound(f"There is no customer number {customer_id}.")
    if customer.erased_at is not None:
        raise Conflict(f"Customer #{customer_id} was already erased.", hint="Nothing more was removed.")
    return customer


def _check_owner(session: Session, user_id: int | None) -> None:
    """PermissionDenied unless the user is an active owner (None: the command line, run by whoever holds the host)."""
    if user_id is None:
        return
    user = session.get(User, user_id)
    if user is None or not user.active or user.role != "owner":
        raise PermissionDenied("Only an owner can erase a customer.")


def _drop_scores(session: Session, customer_id: int) -> int:
    """Delete the customer's score rows and take them out of each run's customer and segment counts."""
    rows = session.execute(select(CustomerScore.run_id, CustomerScore.segment, CustomerScore.clv)
                           .where(CustomerScore.customer_id == customer_id)).all()
    if not rows:
        return 0
    runs = {run.id: run for run in session.scalars(
        select(ScoreRun).where(ScoreRun.id.in_({r.run_id for r in rows})).with_for_update())}
    for run_id, segment, clv in rows:
        run = runs[run_id]
        run.customers = max(0, run.customers - 1)
        if run.segments and segment in run.segments:
            counts = dict(run.segments)
            n, total = counts[segment]
            if n <= 1:
                del counts[segment]
            else:
                counts[segment] = [n - 1, float(total) - (clv or 0.0)]
            run.segments = counts
    session.execute(delete(CustomerScore).where(CustomerScore.customer_id == customer_id))
    return len(rows)


def _drop_replays(session: Session, customer_id: int) -> int:
    """Delete stored API create answers (idempotency keys) that hold this customer's data."""
    gone = []
    pattern = f"%{customer_id}%"
    for key_id, route, body in session.execute(select(IdempotencyKey.id, IdempotencyKey.route,
                                                      IdempotencyKey.response_body)
                                               .where(IdempotencyKey.response_body.like(pattern))):
        field = _REPLAY_KEYS.get(route.rstrip("/").rsplit("/", 1)[-1])
        try:
            stored = json.loads(body)
        except ValueError:
            continue
        if field is not None and isinstance(stored, dict) and stored.get(field) == customer_id:
            gone.append(key_id)
    if gone:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(gone)))
    return len(gone)


def _clear_survey_words(session: Session, customer_id: int) -> None:
    """Keep a survey answer's scores (they count in NPS) but drop what the person wrote, and every personal link."""
    session.execute(delete(SurveyLink).where(SurveyLink.invitation_id.in_(
        select(SurveyInvitation.id).where(SurveyInvitation.customer_id == customer_id))))
    for response in session.scalars(select(SurveyResponse).where(SurveyResponse.customer_id == customer_id)):
        response.answers = {key: value for key, value in (response.answers or {}).items() if not isinstance(value, str)}


def _drop_follow_ups(session: Session, customer_id: int) -> int:
    """Delete the customer's tasks, stock waits, holds and mentions (their reasons and notes describe the person).

    Campaign memberships stay: they hold only the group and dates, and the campaign's lift needs every member.
    """
    dropped = 0
    for model in (Task, StockWait, Hold, Mention):
        dropped += session.execute(delete(model).where(model.customer_id == customer_id)
                                   .execution_options(synchronize_session=False)).rowcount or 0
    return dropped


def erase_customer(session: Session, customer_id: int, *, by_user_id: int | None, secret: str,
                   clock: Clock = utcnow) -> ErasureReport:
    """Erase a customer's personal data for good, keeping an anonymous tombstone so the figures stay right.

    ``by_user_id`` is the owner who asked (None from the command line); ``secret`` keys the suppression
    marker. Runs in the caller's transaction: commit it for the erasure to happen, roll it back to undo all.
    """
    if session.get_bind().dialect.name == "postgresql":
        # First, before any row lock: wait for an import merging now (it may be writing her record back from a
        # file) and hold new merges off until this commits; a merge then finds no id of hers and makes a new record.
        session.execute(select(func.pg_advisory_xact_lock_shared(IMPORT_MERGE)))
    customer = _load(session, customer_id, lock=True)
    _check_owner(session, by_user_id)
    cid = customer.id
    now = clock()
    markers = _remember(session, suppression_digests(secret, email=customer.email, phone=customer.phone))
    notes = session.execute(delete(Note).where(Note.customer_id == cid)).rowcount or 0
    consents = session.execute(delete(Consent).where(Consent.customer_id == cid)).rowcount or 0
    identities = session.execute(delete(CustomerIdentity).where(CustomerIdentity.customer_id == cid)).rowcount or 0
    session.execute(update(Interaction).where(Interaction.customer_id == cid, Interaction.note != "")
                    .values(note="").execution_options(synchronize_session=False))
    moments = _count(session, Interaction, cid)
    scores = _drop_scores(session, cid)
    referrals = (session.execute(update(Customer).where(Customer.referred_by_id == cid)
                                 .values(referred_by_id=None, updated_at=now)
                                 .execution_options(synchronize_session=False)).rowcount or 0)
    referrals += 1 if customer.referred_by_id is not None else 0
    replays = _drop_replays(session, cid)
    follow_ups = _drop_follow_ups(session, cid)
    forget_customer(session, cid)  # queued and sent e-mail held their address and words
    _clear_survey_words(session, cid)
    for name, value in _CLEARED.items():
        setattr(customer, name, value)
    customer.erased_at = customer.updated_at = now
    customer.erased_by = by_user_id
    session.flush()
    session.expire_all()  # the bulk deletes left related collections stale in this session
    log.info("customer erased: customer_id=%s by_user_id=%s", cid, by_user_id)
    return ErasureReport(
        customer_id=cid, erased_at=now, erased_by=by_user_id, notes_deleted=notes, moments_cleared=moments,
        consents_deleted=consents, identities_deleted=identities, scores_deleted=scores, referrals_cleared=referrals,
        replays_deleted=replays, orders_kept=_count(session, Order, cid), suppression_markers=markers,
        follow_ups_deleted=follow_ups,
    )
