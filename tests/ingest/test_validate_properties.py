"""Property tests for the cell parsers: what a person writes is read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from ravingfans.ingest.normalize import normalize_email, normalize_phone
from ravingfans.ingest.validate import Context, _datetime, _int, _money

CTX = Context(zone=ZoneInfo("UTC"))
amounts = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2,
                      allow_nan=False, allow_infinity=False)


def parse(fn, values: list[str | None], ctx: Context = CTX) -> tuple[list, list]:
    value, message = fn(pl.Series(values, dtype=pl.String), ctx)
    return value.to_list(), message.to_list()


@given(amounts)
def test_money_round_trips_to_exact_cents(amount: Decimal) -> None:
    values, errors = parse(_money, [f"{amount:.2f}", f"{amount:,.2f}"])
    assert errors == [None, None]
    assert values == [int(amount * 100)] * 2


@given(amounts)
def test_decimal_comma_when_the_file_uses_semicolons(amount: Decimal) -> None:
    ctx = Context(zone=ZoneInfo("UTC"), comma_decimal=True)
    values, errors = parse(_money, [f"{amount:.2f}".replace(".", ",")], ctx)
    assert errors == [None] and values == [int(amount * 100)]


@given(st.text(max_size=12))
def test_money_never_crashes_and_either_parses_or_explains(cell: str) -> None:
    if not cell.strip():
        return
    values, errors = parse(_money, [cell.strip()])
    assert (values[0] is None) != (errors[0] is None)  # exactly one: a value or the reason


@given(st.integers(min_value=1, max_value=10**9 - 1))
def test_positive_quantities(n: int) -> None:
    assert parse(_int(True), [str(n)]) == ([n], [None])
    assert parse(_int(True), [str(-n)])[1][0] is not None


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
       st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_datetimes_with_offsets_land_on_the_same_instant(moment: datetime, offset_min: int) -> None:
    moment = moment.replace(microsecond=0)
    zone = timezone(timedelta(minutes=offset_min))
    aware = moment.replace(tzinfo=zone)
    values, errors = parse(_datetime, [aware.isoformat(), aware.isoformat(sep=" ")])
    assert errors == [None, None]
    assert values[0] == values[1] == aware.astimezone(UTC)


@given(st.from_regex(r"[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,20}\.[a-z]{2,6}", fullmatch=True))
def test_email_normalisation_is_idempotent(address: str) -> None:
    if ".." in address:
        return
    once = normalize_email(address.upper())
    assert once == address.lower() and normalize_email(once) == once


@given(st.integers(min_value=2012000000, max_value=9899999999))
def test_us_national_numbers_become_e164(number: int) -> None:
    digits = str(number)
    try:
        e164 = normalize_phone(f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", "US")
    except ValueError:
        return
    assert e164 == f"+1{digits}" and normalize_phone(e164, "DE") == e164
