"""Option values several commands share: days and time zones, refused by option name when malformed."""

from __future__ import annotations

from datetime import date

from ravingfans.errors import ValidationFailed


def parse_day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value (None when not given)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{option} {value!r} is not a date; write it as YYYY-MM-DD.", field=option) from None


def time_zone(name: str) -> str:
    """An IANA time zone name, as given."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"--time-zone {name!r} is not a time zone; use an IANA name such as "
                               "'Europe/Berlin'.", field="time_zone") from None
    return name
