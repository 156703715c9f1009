"""Silences: empty answers, fans who never answer, customers who stopped getting in touch."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ravingfans.analytics.text.silence import empty_answers, is_empty_answer, silent_fans, stopped_contacting
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
