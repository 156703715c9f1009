"""Requests: what asks for something is found and extracted; nothing crashes on any string."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ravingfans.analytics.text.requests import MAX_REQUEST_CHARS, find_requests, request_phrase


@pytest.mark.parametrize(("text", "phrase"), [
    ("I wish you had more vegan options.", "I wish you had more vegan options"),
    ("Lovely place. Could you open earlier on Sundays? Thanks", "Could you open earlier on Sundays"),
    ("It would be nice if the shop had parking", "It would be nice if the shop had parking"),
    ("please add oat milk!!", "please add oat milk"),
    ("You should hire more staff. Great otherwise", "You should hire more staff"),
    ("why don't you deliver?", "why don't you deliver"),
    ("Would love a loyalty card", "Would love a loyalty card"),
    ("We need more parking spaces", "We need more parking spaces"),
    ("Bring back the old menu", "Bring back the old menu"),
    ("I’d love it if you stocked gluten-free bread", "I'd love it if you stocked gluten-free bread"),
])
def test_requests_are_found(text: str, phrase: str) -> None:
    assert request_phrase(text) == phrase


@pytest.mark.parametrize("text", [
    "Could you believe how rude they were", "I wish I had never come", "You should try the cake",
    "Great service, thanks", "I would love to come back", "it was fine", "", "   ",
])
def test_non_requests(text: str) -> None:
    assert request_phrase(text) is None


def test_find_requests_batch() -> None:
    result = find_requests(["please add parking", None, "great", "please add parking"])  # type: ignore[list-item]
    assert result.is_request.tolist() == [True, False, False, True]
    assert result.request.tolist() == ["please add parking", None, None, "please add parking"]
    assert len(find_requests([])) == 0


def test_long_requests_are_trimmed() -> None:
    phrase = request_phrase("Could you " + "please " * 100 + "open later")
    assert phrase is not None and MAX_REQUEST_CHARS - 2 <= len(phrase) <= MAX_REQUEST_CHARS and phrase.endswith("…")


@given(st.text())
def test_any_text_is_handled(text: str) -> None:
    phrase = request_phrase(text)
    assert phrase is None or (0 < len(phrase) <= MAX_REQUEST_CHARS)
    assert find_requests([text]).is_request.tolist() == [phrase is not None]
