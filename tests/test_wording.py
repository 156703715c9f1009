"""Counts in plain English: the noun agrees with the number."""

from __future__ import annotations

import pytest

from ravingfans.wording import counted


@pytest.mark.parametrize(("number", "noun", "plural", "expected"), [
    (1, "customer", None, "1 customer"),
    (0, "customer", None, "0 customers"),
    (2, "customer", None, "2 customers"),
    (12345, "customer", None, "12,345 customers"),
    (1, "reply", "replies", "1 reply"),
    (3, "reply", "replies", "3 replies"),
])
def test_counted_agrees_with_the_number(number: int, noun: str, plural: str | None, expected: str) -> None:
    assert counted(number, noun, plural) == expected
