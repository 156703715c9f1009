"""How values look on a page: times in the business zone, money in the business currency, labels."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩", "ILS": "₪"}
MISSING = "—"


def format_money(amount: Decimal | float | None, currency: str) -> str:
    """``$1,234.50``, ``-€3.00`` or ``1,234.50 CHF`` (no symbol known); a dash for None (or a float NaN)."""
    if amount is None or isinstance(amount, float) and not math.isfinite(amount):
        return MISSING
    value = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
    sign = "-" if value < 0 else ""
    digits = f"{abs(value):,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency.upper()}"


def format_percent(share: float | None) -> str:
    """``83%`` for 0.834; a dash for None or NaN (a score the model could not give)."""
    if share is None or not math.isfinite(share):
        return MISSING
    return f"{share:.0%}"


def format_number(value: float | None, digits: int = 1) -> str:
    """``1.2`` (``digits`` decimals); a dash for None or NaN."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:,.{digits}f}"


def to_zone(value: datetime, zone: tzinfo) -> datetime:
    """An aware time moved into ``zone`` (a naive one is taken to be UTC, as stored)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(zone)


def format_datetime(value: datetime | None, zone: tzinfo) -> str:
    """``2024-05-03 14:05 CEST``: the moment as a clock in the business's zone shows it."""
    if value is None:
        return MISSING
    local = to_zone(value, zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def format_date(value: date | datetime | None, zone: tzinfo) -> str:
    """``2024-05-03``; for a moment, the day it was in the business's zone."""
    if value is None:
        return MISSING
    if isinstance(value, datetime):
        value = to_zone(value, zone).date()
    return value.isoformat()


def iso_utc(value: datetime | None) -> str:
    """Machine-readable UTC time for ``<time datetime=...>``."""
    if value is None:
        return ""
    return to_zone(value, UTC).isoformat().replace("+00:00", "Z")


def humanize(value: str | None) -> str:
    """``courtesy_call`` -> ``Courtesy call``."""
    if not value:
        return MISSING
    text = value.replace("_", " ").strip()
    return text[:1].upper() + text[1:]
