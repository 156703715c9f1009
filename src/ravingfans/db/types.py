"""Column types that keep money exact and times in UTC on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = 2
_QUANT = Decimal(1).scaleb(-MONEY_SCALE)
_FACTOR = 10**MONEY_SCALE


def to_minor(amount: Decimal | int | str) -> int:
    """An amount in minor units (cents), rounded half-even; the form money is stored in."""
    return int((Decimal(amount) * _FACTOR).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_minor(minor: int) -> Decimal:
    """A stored minor-unit integer back to an exact Decimal amount."""
    return (Decimal(minor) / _FACTOR).quantize(_QUANT)


class Money(TypeDecorator[Decimal]):
    """Exact money: a Decimal in Python, an integer count of cents in the database.

    Integers are exact and fast on SQLite (which has no true DECIMAL) and PostgreSQL alike, and
    let set-based SQL sum amounts without rounding.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else to_minor(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else from_minor(int(value))


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in time: aware datetimes in Python, stored as UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime given; attach the business time zone before storing")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
