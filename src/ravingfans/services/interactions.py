"""Moments of truth as records: list them across customers by cursor, read one, log one, correct one.

Logging goes through :func:`ravingfans.services.moments.log_interaction`, the same function the
profile page's form calls, and a correction is checked by the same model and rules
(:func:`ravingfans.services.moments.parse_interaction`, :func:`~ravingfans.services.moments.check_moment`):
known channel, kind and rating, known employee, a time that is not in the future.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import RATINGS, Employee, Interaction
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services import moments
from ravingfans.services.moments import InteractionCreate
from ravingfans.services.inputs import MAX_ID, to_utc
from ravingfans.services.records import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    filter_scope,
    id_filter,
    page_after,
)


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    """One moment of truth, with whose timeline it is on."""

    id: int
    customer_id: int
    occurred_at: datetime
    channel: str
    kind: str
    rating: str | None
    note: str
    employee_id: int | None
    employee_name: str | None
    created_at: datetime


def _record(row: Interaction, employee_name: str | None) -> InteractionRecord:
    return InteractionRecord(id=row.id, customer_id=row.customer_id, occurred_at=row.occurred_at, channel=row.channel,
                             kind=row.kind, rating=row.rating_name, note=row.note or "", employee_id=row.employee_id,
                             employee_name=employee_name, created_at=row.created_at)


def _select() -> Select[tuple[Interaction, str]]:
    """Moments with the name of who served (None when nobody is named)."""
    return select(Interaction, Employee.name).outerjoin(Employee, Employee.id == Interaction.employee_id)


def get_interaction(session: Session, interaction_id: int) -> InteractionRecord:
    """One moment of truth; NotFound when there is none."""
    found = session.execute(_select().where(Interaction.id == interaction_id)).first() \
        if 1 <= interaction_id <= MAX_ID else None
    if found is None:
        raise NotFound(f"There is no moment of truth number {interaction_id}.")
    return _record(found[0], found[1])


def list_interactions(
    session: Session,
    *,
    customer_id: int | None = None,
    rating: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    zone: tzinfo = UTC,
) -> Page[InteractionRecord]:
    """Moments of truth by id, a page at a time: of one customer, of one rating, that happened in ``[since, until)``."""
    if rating is not None and rating not in RATINGS:
        raise ValidationFailed(f"rating: must be one of {', '.join(RATINGS)}", field="rating")
    start = to_utc(since, "since", zone=zone)
    end = to_utc(until, "until", zone=zone)
    check_limit(limit)
    scope = filter_scope(kind="interactions", customer_id=customer_id, rating=rating, since=start, until=end)
    position = decode_cursor(cursor, scope)
    stmt = _select().where(*id_filter(Interaction.customer_id, customer_id))
    if rating is not None:
        stmt = stmt.where(Interaction.rating == RATINGS[rating])
    if start is not None:
        stmt = stmt.where(Interaction.occurred_at >= start)
    if end is not None:
        stmt = stmt.where(Interaction.occurred_at < end)
    return page_after(session, stmt, Interaction.id, position[0] if position else None, limit,
                      lambda row: _record(row[0], row[1]), lambda item: [item.id], scope)


def log_moment(session: Session, customer_id: int, moment: InteractionCreate, *,
               clock: Clock = utcnow) -> InteractionRecord:
    """Log a moment of truth on a customer's timeline (the profile form's rules) and return it as a record."""
    entry = moments.log_interaction(session, customer_id, moment, clock=clock)
    return get_interaction(session, entry.id)


#: What a correction may change; whose timeline it is on and when it was logged stay.
EDITABLE = ("channel", "kind", "rating", "note", "employee_id", "occurred_at")
_KEPT = {"channel": "a moment of truth always has a channel", "kind": "a moment of truth always has a kind",
         "occurred_at": "a moment of truth always has a time"}


def update_moment(session: Session, interaction_id: int, changes: Mapping[str, Any], *, zone: tzinfo = UTC,
                  clock: Clock = utcnow) -> InteractionRecord:
    """Correct a logged moment of truth: the fields in ``changes`` change, checked as when it was logged.

    ``null`` clears the rating, the employee or the note; channel, kind and time cannot be cleared.
    """
    row = session.get(Interaction, interaction_id) if 1 <= interaction_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"There is no moment of truth number {interaction_id}.")
    for name, value in changes.items():
        if name not in EDITABLE:
            raise ValidationFailed(f"{name}: cannot be changed; it may be one of {', '.join(EDITABLE)}", field=name)
        if value is None and name in _KEPT:
            raise ValidationFailed(f"{name}: {_KEPT[name]}", field=name)
    current = {"channel": row.channel, "kind": row.kind, "rating": row.rating_name, "note": row.note or "",
               "employee_id": row.employee_id, "occurred_at": row.occurred_at}
    wanted = {name: "" if name == "note" and value is None else value for name, value in changes.items()}
    moment = moments.parse_interaction({**current, **wanted}, zone=zone)
    occurred, _ = moments.check_moment(session, moment, clock())
    row.channel, row.kind, row.note, row.employee_id, row.occurred_at = (moment.channel, moment.kind, moment.note,
                                                                         moment.employee_id, occurred)
    row.rating = RATINGS[moment.rating] if moment.rating is not None else None
    session.flush()
    return get_interaction(session, row.id)
