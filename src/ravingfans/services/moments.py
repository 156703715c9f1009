"""Notes and moments of truth on a customer: validate what staff typed, add, edit and log them.

Split out of :mod:`ravingfans.services.customers` (which re-exports these names, so older imports
keep working). Every function takes an open Session, returns frozen dataclasses and raises
:class:`~ravingfans.errors.NotFound` or :class:`~ravingfans.errors.ValidationFailed` (with ``field``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import CHANNELS, KINDS, RATINGS, Employee, Interaction, Note
from ravingfans.db.models.interactions import name_of_rating
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services.common import MAX_ID, clean_text, get_customer, validated

MAX_NOTE_LENGTH = 5000
MAX_AUTHOR_LENGTH = 120
FUTURE_TOLERANCE = timedelta(minutes=5)
# A moment logged with one click (a rating button) is a question at the counter unless staff say otherwise.
QUICK_CHANNEL = "store"
QUICK_KIND = "question"


@dataclass(frozen=True, slots=True)
class InteractionEntry:
    """One moment of truth on the customer's timeline."""

    id: int
    occurred_at: datetime
    channel: str
    kind: str
    rating: str | None
    note: str
    employee_id: int | None
    employee_name: str | None


@dataclass(frozen=True, slots=True)
class NoteEntry:
    """One note written by staff."""

    id: int
    author: str
    body: str
    created_at: datetime

EARLIEST_YEAR = 1900  # a moment of truth before this is a typing slip, and year 1 cannot move zones


class NoteCreate(BaseModel):
    """A note a member of staff adds to a customer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    body: str = Field(min_length=1, max_length=MAX_NOTE_LENGTH)
    author: str = Field(default="", max_length=MAX_AUTHOR_LENGTH)

    @field_validator("body", mode="before")
    @classmethod
    def _clean_body(cls, value: Any) -> Any:
        return clean_text(value, multiline=True)

    @field_validator("author", mode="before")
    @classmethod
    def _clean_author(cls, value: Any) -> Any:
        return clean_text(value, multiline=False)


class NoteEdit(BaseModel):
    """The new text of a note a manager corrects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    body: str = Field(min_length=1, max_length=MAX_NOTE_LENGTH)

    @field_validator("body", mode="before")
    @classmethod
    def _clean_body(cls, value: Any) -> Any:
        return clean_text(value, multiline=True)


class InteractionCreate(BaseModel):
    """A moment of truth to log: how, what about, how it went, who served, when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str
    kind: str
    rating: str | None = None
    note: str = Field(default="", max_length=MAX_NOTE_LENGTH)
    employee_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    occurred_at: datetime | None = None

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"must be one of {', '.join(CHANNELS)}")
        return value

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"must be one of {', '.join(KINDS)}")
        return value

    @field_validator("rating", "employee_id", "occurred_at", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("rating")
    @classmethod
    def _known_rating(cls, value: str | None) -> str | None:
        if value is not None and value not in RATINGS:
            raise ValueError(f"must be one of {', '.join(RATINGS)}")
        return value

    @field_validator("note", mode="before")
    @classmethod
    def _clean_note(cls, value: Any) -> Any:
        return clean_text(value, multiline=True)

    @field_validator("occurred_at")
    @classmethod
    def _aware_utc(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        """A time without a zone is read in the business time zone (given as context 'zone')."""
        if value is None:
            return None
        if value.tzinfo is None:
            zone = (info.context or {}).get("zone")
            if not isinstance(zone, tzinfo):
                raise ValueError("needs a time zone (e.g. 2024-05-03T14:05:00+02:00)")
            value = value.replace(tzinfo=zone)
        try:
            moment = value.astimezone(UTC)
        except (OverflowError, ValueError):  # e.g. year 1 at UTC+14: before the first representable time
            raise ValueError("is out of range; give a date after 1900") from None
        if moment.year < EARLIEST_YEAR:
            raise ValueError("is out of range; give a date after 1900")
        return moment


def parse_note(data: Mapping[str, Any]) -> NoteCreate:
    """Validate raw note input (a form or a JSON body); raises ValidationFailed with the field."""
    return validated(NoteCreate, data)


def parse_note_edit(data: Mapping[str, Any]) -> NoteEdit:
    """Validate a note's corrected text; raises ValidationFailed with the field."""
    return validated(NoteEdit, data)


def parse_interaction(data: Mapping[str, Any], *, zone: tzinfo = UTC) -> InteractionCreate:
    """Validate raw moment-of-truth input; times without a zone are read in ``zone``."""
    return validated(InteractionCreate, data, context={"zone": zone})


MAX_CALL_NOTE = 500  # a line about a call logged from a list; longer stories belong in a note
CALL = {"channel": "phone", "kind": "courtesy_call"}


def parse_call(rating: str, note: str, *, zone: tzinfo = UTC) -> InteractionCreate:
    """A courtesy call by phone logged from a list: rated if a rating was picked, with a short note."""
    if len(note.strip()) > MAX_CALL_NOTE:
        raise ValidationFailed(f"Note: at most {MAX_CALL_NOTE} characters for a call, please "
                               "(add a longer note with “Add a note”)", field="note")
    return parse_interaction({**CALL, "rating": rating, "note": note}, zone=zone)


def parse_list_note(body: str) -> NoteCreate:
    """A note added from a list, where an empty box is a slip worth saying so plainly."""
    if not body.strip():
        raise ValidationFailed("Note: write something first; an empty note was not saved", field="body")
    return parse_note({"body": body})


def parse_quick_interaction(data: Mapping[str, Any], *, zone: tzinfo = UTC) -> InteractionCreate:
    """Like :func:`parse_interaction`, but a blank channel or kind takes the one-click defaults."""
    filled = dict(data)
    for key, default in (("channel", QUICK_CHANNEL), ("kind", QUICK_KIND)):
        value = filled.get(key)
        if value is None or isinstance(value, str) and not value.strip():
            filled[key] = default
    return parse_interaction(filled, zone=zone)


def employee_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Names of the employees with these ids (one query, none for an empty set)."""
    if not ids:
        return {}
    rows = session.execute(select(Employee.id, Employee.name).where(Employee.id.in_(ids)))
    return {employee_id: name for employee_id, name in rows}


def interaction_entry(row: Interaction | Row[Any], names: Mapping[int, str]) -> InteractionEntry:
    """The view of a stored moment (the object, or a row of its columns), with its employee's name from ``names``."""
    return InteractionEntry(
        id=row.id, occurred_at=row.occurred_at, channel=row.channel, kind=row.kind,
        rating=name_of_rating(row.rating),
        note=row.note or "", employee_id=row.employee_id,
        employee_name=names.get(row.employee_id) if row.employee_id is not None else None,
    )


def note_entry(row: Note | Row[Any]) -> NoteEntry:
    """The view of a stored note (the object, or a row of its columns)."""
    return NoteEntry(id=row.id, author=row.author or "", body=row.body, created_at=row.created_at)


def add_note(session: Session, customer_id: int, note: NoteCreate, *, clock: Clock = utcnow) -> NoteEntry:
    """Add a staff note to a customer; NotFound when there is no such customer."""
    customer = get_customer(session, customer_id)
    row = Note(customer_id=customer.id, author=note.author, body=note.body, created_at=clock())
    session.add(row)
    session.flush()
    return note_entry(row)


def edit_note(session: Session, customer_id: int, note_id: int, edit: NoteEdit) -> NoteEntry:
    """Replace a note's text (author and time stay); NotFound unless the note is this customer's."""
    customer = get_customer(session, customer_id)
    row = session.get(Note, note_id) if 1 <= note_id <= MAX_ID else None
    if row is None or row.customer_id != customer.id:
        raise NotFound(f"{customer.display_name} has no note number {note_id}.",
                       hint="It may have been removed; reload the profile.")
    row.body = edit.body
    session.flush()
    return note_entry(row)


def check_moment(session: Session, moment: InteractionCreate, now: datetime) -> tuple[datetime, dict[int, str]]:
    """When the moment happened (``now`` if not said) and its employee's name; the rules of logging and correcting.

    The employee must exist and the time may not be ahead of ``now`` (by more than a clock's drift).
    """
    names: dict[int, str] = {}
    if moment.employee_id is not None:
        employee = session.get(Employee, moment.employee_id)
        if employee is None:
            raise ValidationFailed(f"Employee: there is no employee number {moment.employee_id}",
                                   field="employee_id")
        names[employee.id] = employee.name
    occurred = moment.occurred_at or now
    if occurred > now + FUTURE_TOLERANCE:
        raise ValidationFailed("When: a moment of truth cannot be in the future", field="occurred_at")
    return occurred, names


def log_interaction(
    session: Session, customer_id: int, moment: InteractionCreate, *, clock: Clock = utcnow
) -> InteractionEntry:
    """Log a moment of truth on a customer's timeline; the employee must exist, the time not be ahead."""
    customer = get_customer(session, customer_id)
    now = clock()
    occurred, names = check_moment(session, moment, now)
    row = Interaction(
        customer_id=customer.id,
        employee_id=moment.employee_id,
        occurred_at=occurred,
        channel=moment.channel,
        kind=moment.kind,
        rating=RATINGS[moment.rating] if moment.rating is not None else None,
        note=moment.note,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return interaction_entry(row, names)
