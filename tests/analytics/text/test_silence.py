"""Silences: empty answers, fans who never answer, customers who stopped getting in touch."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ravingfans.analytics.text.silence import (
    contact_silence,
    empty_answers,
    is_empty_answer,
    silent_fans,
    stopped_contacting,
)
from ravingfans.errors import ValidationFailed


@pytest.mark.parametrize("text", ["fine", "OK!", "Everything's good", "everything’s fine.", "n/a", "N/A", "-", "",
                                  "   ", "No comment.", "👍👍", "all good thanks", "nothing really", "😀 😀", "...",
                                  "Good, thanks", "no complaints"])
def test_empty(text: str) -> None:
    assert is_empty_answer(text)


@pytest.mark.parametrize("text", ["fine, but the coffee was cold", "The staff", "Open earlier please",
                                  "ok but parking is a nightmare", "good coffee"])
def test_not_empty(text: str) -> None:
    assert not is_empty_answer(text)


def test_empty_answers_batch() -> None:
    assert empty_answers(["ok", None, "rude staff", "ok"]).tolist() == [True, True, False, True]  # type: ignore[list-item]


@given(st.text())
def test_any_text_is_handled(text: str) -> None:
    assert isinstance(is_empty_answer(text), bool)


def test_silent_fans() -> None:
    day = datetime(2026, 1, 1)
    invitations = pl.DataFrame({"customer_id": [1, 1, 1, 2, 2, 3, 3, 4],
                                "invited_at": [day + timedelta(days=30 * i) for i in range(8)]})
    responses = pl.DataFrame({"customer_id": [2]})
    out = silent_fans(invitations, responses)
    assert out["customer_id"].to_list() == [1, 3] and out["invitations"].to_list() == [3, 2]
    assert silent_fans(invitations, responses, min_invitations=3)["customer_id"].to_list() == [1]
    assert silent_fans(invitations, responses, fans=[3, 4])["customer_id"].to_list() == [3]
    with pytest.raises(ValidationFailed, match=r"invitations is missing column\(s\) 'sent_at'"):
        silent_fans(invitations, responses, invited_at_col="sent_at")


def test_stopped_contacting_is_relative_to_each_customer() -> None:
    monthly = [date(2025, m, 1) for m in range(1, 7)]  # every ~30 days, last 2025-06-01
    yearly = [date(2022, 7, 1), date(2023, 7, 1), date(2024, 7, 1)]  # every 365 days, last 2024-07-01
    weekly_still = [date(2025, 12, 1) + timedelta(days=7 * i) for i in range(4)]
    contacts = pl.DataFrame({"customer_id": ["m"] * 6 + ["y"] * 3 + ["w"] * 4,
                             "contact_at": monthly + yearly + weekly_still})
    out = stopped_contacting(contacts, as_of=date(2026, 1, 1))
    assert out["customer_id"].to_list() == ["m"]
    row = out.row(0, named=True)
    assert row["contacts"] == 6 and row["days_since"] == pytest.approx(214) and row["usual_gap_days"] == 31  # gaps 31, 28, 31, 30, 31 days
    later = stopped_contacting(contacts, as_of=date(2027, 12, 1))
    assert set(later["customer_id"].to_list()) == {"m", "w", "y"}
    with pytest.raises(ValidationFailed, match="factor must be more than 1"):
        stopped_contacting(contacts, as_of=date(2026, 1, 1), factor=1)


def test_contact_silence_for_one_customer() -> None:
    monthly = [date(2025, m, 1) for m in range(1, 7)]
    row = contact_silence(monthly, as_of=date(2026, 1, 1))
    assert row is not None
    assert (row.contacts, row.usual_gap_days, row.days_since) == (6, 31, 214)
    assert row.last_contact == datetime(2025, 6, 1)
    assert contact_silence(monthly, as_of=date(2025, 7, 1)) is None  # 30 days: not yet three gaps
    assert contact_silence(monthly[:2], as_of=date(2026, 1, 1)) is None  # two contacts are too few
    assert contact_silence([], as_of=date(2026, 1, 1)) is None
    with pytest.raises(ValidationFailed, match="min_contacts must be 2 or more"):
        contact_silence(monthly, as_of=date(2026, 1, 1), min_contacts=1)


_TIMES = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 12, 31))


@given(contacts=st.lists(st.one_of(st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)), _TIMES),
                         max_size=12),
       as_of=_TIMES, factor=st.floats(1.01, 6.0), min_contacts=st.integers(2, 5), min_days=st.floats(0.0, 90.0))
def test_contact_silence_agrees_with_stopped_contacting(contacts: list[date | datetime], as_of: datetime,
                                                         factor: float, min_contacts: int, min_days: float) -> None:
    """The one-customer rule (the pages) and the DataFrame rule (bulk) flag the same customers, same figures."""
    at = [c if isinstance(c, datetime) else datetime(c.year, c.month, c.day) for c in contacts]
    frame = pl.DataFrame({"customer_id": [1] * len(at), "contact_at": at},
                         schema={"customer_id": pl.Int64, "contact_at": pl.Datetime("us")})
    bulk = stopped_contacting(frame, as_of=as_of, factor=factor, min_contacts=min_contacts, min_days=min_days)
    one = contact_silence(contacts, as_of=as_of, factor=factor, min_contacts=min_contacts, min_days=min_days)
    assert (one is None) == bulk.is_empty()
    if one is not None:
        row = bulk.row(0, named=True)
        assert (one.contacts, one.last_contact) == (row["contacts"], row["last_contact"])
        assert one.usual_gap_days == pytest.approx(row["usual_gap_days"], rel=1e-12)
        assert one.days_since == pytest.approx(row["days_since"], rel=1e-12)
