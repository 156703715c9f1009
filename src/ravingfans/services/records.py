"""What the record services (customers, orders, products, moments, scores) share: pages and safe writes.

Lists are paged by keyset, never by offset: rows come in a fixed order (by id) and the opaque cursor
carries where the last page stopped, so a client walking every page sees each row exactly once even
while rows are added, and page 1,000 costs what page 1 does. A cursor also carries a short hash of the
filters it was made for, so it cannot be replayed against another query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ravingfans.errors import Conflict, ValidationFailed
from ravingfans.services.inputs import MAX_ID

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 200

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def check_limit(limit: int) -> int:
    """The page size, or ValidationFailed when it is not between 1 and :data:`MAX_LIMIT`."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit: must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def filter_scope(**filters: Any) -> str:
    """A short fingerprint of a list's filters, carried in its cursors."""
    canonical = json.dumps(filters, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def encode_cursor(position: Sequence[int], scope: str) -> str:
    """An opaque cursor for the row at ``position`` in a list with filters ``scope``."""
    raw = json.dumps({"p": list(position), "s": scope}, separators=(",", ":")).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, scope: str, size: int = 1) -> list[int] | None:
    """The position a cursor names (``size`` ids), None for the first page; ValidationFailed if it is not ours."""
    if cursor is None or cursor == "":
        return None
    bad = ValidationFailed("cursor: not a cursor this list gave out; start again without one", field="cursor")
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise bad
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), list):
        raise bad
    position = data["p"]
    if len(position) != size or not all(type(v) is int and 0 <= v <= MAX_ID for v in position):
        raise bad
    if data.get("s") != scope:
        raise ValidationFailed("cursor: it belongs to a list with other filters; start again without one",
                               field="cursor")
    return position


def page_after(session: Session, stmt: Select[Any], key: Any, after: int | None, limit: int,
               convert: Callable[[Any], R], position: Callable[[R], Sequence[int]], scope: str) -> Page[R]:
    """One page of ``stmt``'s rows ordered by the integer column ``key``, those after ``after``, converted.

    ``position`` gives the cursor position of an item (its key, after any fixed prefix such as a run id).
    """
    if after is not None:
        stmt = stmt.where(key > after)
    rows = list(session.execute(stmt.order_by(key).limit(limit + 1)))
    items = [convert(row) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(position(items[-1]), scope) if more else None)


def flush_or_conflict(session: Session, message: str, *, hint: str | None = None) -> None:
    """Flush pending rows; a unique-key clash (e.g. another request just took the same SKU) is a Conflict."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(message, hint=hint) from None


def id_filter(column: ColumnElement[Any], value: int | None) -> list[ColumnElement[bool]]:
    """``column == value`` as a one-item filter list, or none when the value is not given."""
    return [] if value is None else [column == value]
