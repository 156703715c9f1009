"""How times, money and labels look on the pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ravingfans.web.formatting import format_date, format_datetime, format_money, humanize, iso_utc

BERLIN = ZoneInfo("Europe/Berlin")


def test_money_uses_the_business_currency() -> None:
    assert format_money(Decimal("1234.5"), "USD") == "$1,234.50"
    assert format_money(Decimal("-3"), "eur") == "-€3.00"
    assert format_money(Decimal("1234567.891"), "CHF") == "1,234,567.89 CHF"
    assert format_money(0, "GBP") == "£0.00"
    assert format_money(None, "USD") == "—"


def test_times_are_shown_in_the_business_zone_across_daylight_saving() -> None:
    assert format_datetime(datetime(2024, 1, 15, 8, 30, tzinfo=UTC), BERLIN) == "2024-01-15 09:30 CET"
    assert format_datetime(datetime(2024, 7, 15, 8, 30, tzinfo=UTC), BERLIN) == "2024-07-15 10:30 CEST"
    assert format_datetime(datetime(2024, 7, 15, 8, 30), BERLIN) == "2024-07-15 10:30 CEST"  # naive = stored UTC
    assert format_datetime(None, BERLIN) == "—"


def test_dates_are_the_local_day() -> None:
    late = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    assert format_date(late, BERLIN) == "2024-03-02"
    assert format_date(late, ZoneInfo("America/New_York")) == "2024-03-01"
    assert format_date(date(1815, 12, 10), BERLIN) == "1815-12-10"
    assert format_date(None, BERLIN) == "—"


def test_machine_readable_and_input_values() -> None:
    moment = datetime(2024, 7, 15, 8, 30, tzinfo=UTC)
    assert iso_utc(moment.astimezone(BERLIN)) == "2024-07-15T08:30:00Z"
    assert iso_utc(None) == ""


def test_labels_read_like_words() -> None:
    assert humanize("courtesy_call") == "Courtesy call"
    assert humanize("magic") == "Magic"
    assert humanize("") == "—"
    assert humanize(None) == "—"
