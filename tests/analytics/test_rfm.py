"""rfm_scores and rfm_segments: quintiles with deterministic ties, and a segment map that is a partition."""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import product

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ravingfans.analytics import DEFAULT_SEGMENTS, rfm_scores, rfm_segments, validate_segment_map
from ravingfans.errors import ValidationFailed

SUMMARY = pl.DataFrame({
    "customer_id": ["A", "B", "C", "D", "E", "F"],
    "last_purchase": [date(2024, 3, 30), date(2024, 3, 30), date(2024, 3, 20), date(2024, 3, 10),
                      date(2024, 2, 1), date(2024, 1, 15)],
    "frequency": [5, 0, 2, 0, 1, 0],
    "total_spend": [9000, 500, 3000, 500, 1200, 100],
})


def _scores(frame: pl.DataFrame) -> dict[str, tuple[int, int, int]]:
    return {r["customer_id"]: (r["R"], r["F"], r["M"]) for r in frame.to_dicts()}


def test_exact_scores_on_a_small_example() -> None:
    # n = 6, so score = min(5, 1 + floor(5 * smaller / 5)) = min(5, 1 + smaller).
    # R: customers with a LATER last purchase: A 0, B 0, C 2, D 3, E 4, F 5 -> 1,1,3,4,5,5 -> R = 6 - that
    # F: frequency 0 (B, D, F) -> 1; 1 (E): 3 smaller -> 4; 2 (C): 4 -> 5; 5 (A): 5 -> 6, capped 5
    # M: 100 (F) -> 1; 500 (B, D): 1 smaller -> 2; 1200 (E) -> 4; 3000 (C) -> 5; 9000 (A) -> 5
    assert _scores(rfm_scores(SUMMARY)) == {
        "A": (5, 5, 5), "B": (5, 1, 2), "C": (3, 5, 5), "D": (2, 1, 2), "E": (1, 4, 4), "F": (1, 1, 1),
    }


def test_exact_segments_on_the_small_example() -> None:
    out = rfm_segments(rfm_scores(SUMMARY))
    # FM = floor((F + M) / 2): A 5, B 1, C 5, D 1, E 4, F 1
    assert dict(zip(out["customer_id"], zip(out["FM"], out["segment"], strict=True), strict=True)) == {
        "A": (5, "Champions"), "B": (1, "New"), "C": (5, "Loyal"),
        "D": (1, "Hibernating"), "E": (4, "At Risk"), "F": (1, "Lost"),
    }


def test_distinct_values_fall_into_equal_fifths() -> None:
    n = 10
    summary = pl.DataFrame({
        "customer_id": list(range(n)),
        "last_purchase": [date(2024, 1, 1) + timedelta(days=i) for i in range(n)],
        "frequency": list(range(n)), "total_spend": [100 * i for i in range(n)],
    })
    out = rfm_scores(summary)
    fifths = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert out["F"].to_list() == fifths and out["M"].to_list() == fifths and out["R"].to_list() == fifths


@pytest.mark.parametrize(("n", "expected"), [
    (1, [1]), (2, [1, 5]), (3, [1, 3, 5]), (4, [1, 2, 4, 5]), (5, [1, 2, 3, 4, 5]),
])
def test_fewer_than_five_customers_spread_sensibly(n: int, expected: list[int]) -> None:
    summary = pl.DataFrame({
        "customer_id": list(range(n)),
        "last_purchase": [date(2024, 1, 1) + timedelta(days=i) for i in range(n)],
        "frequency": list(range(n)), "total_spend": list(range(n)),
    })
    out = rfm_scores(summary)
    assert out["F"].to_list() == expected and out["M"].to_list() == expected
    assert out["R"].to_list() == ([5] if n == 1 else expected)  # a lone customer is the most recent one


def test_a_single_customer_is_new() -> None:
    out = rfm_segments(rfm_scores(SUMMARY.head(1)))
    assert out.select("R", "F", "M", "segment").row(0) == (5, 1, 1, "New")


def test_ties_share_a_score_at_the_weak_end() -> None:
    same = pl.DataFrame({"customer_id": [1, 2, 3], "last_purchase": [date(2024, 3, 1)] * 3,
                         "frequency": [0, 0, 0], "total_spend": [50, 50, 50]})
    assert set(_scores(rfm_scores(same)).values()) == {(5, 1, 1)}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 4), st.integers(0, 3)), min_size=1, max_size=30),
       st.randoms())
def test_scores_ignore_row_order_and_respect_order(rows: list[tuple[int, int, int]], rnd: random.Random) -> None:
    summary = pl.DataFrame({
        "customer_id": list(range(len(rows))),
        "last_purchase": [date(2024, 1, 1) + timedelta(days=r[0]) for r in rows],
        "frequency": [r[1] for r in rows], "total_spend": [r[2] * 100 for r in rows],
    })
    order = list(range(len(rows)))
    rnd.shuffle(order)
    base = _scores(rfm_scores(summary))
    assert _scores(rfm_scores(summary[order])) == base
    for i, j in product(range(len(rows)), repeat=2):
        for k, col in enumerate(("last_purchase", "frequency", "total_spend")):
            a, b = summary[col][i], summary[col][j]
            assert 1 <= base[i][k] <= 5
            if a == b:
                assert base[i][k] == base[j][k]
            elif a < b:
                assert base[i][k] <= base[j][k]


def test_every_one_of_the_125_combinations_has_exactly_one_default_segment() -> None:
    validate_segment_map(DEFAULT_SEGMENTS)
    names = {name for name, _, _ in DEFAULT_SEGMENTS}
    assert names == {"Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
                     "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost"}
    grid = pl.DataFrame(list(product(range(1, 6), repeat=3)), schema=["R", "F", "M"], orient="row")
    out = rfm_segments(grid)
    assert out.height == 125 and out["segment"].null_count() == 0
    for r, f, m, segment in out.select("R", "F", "M", "segment").iter_rows():
        fm = (f + m) // 2
        matches = [n for n, (rl, rh), (fl, fh) in DEFAULT_SEGMENTS if rl <= r <= rh and fl <= fm <= fh]
        assert matches == [segment]
    assert set(out["segment"]) == names  # every segment is reachable


def test_a_custom_map_is_used() -> None:
    simple = [("Fans", (4, 5), (3, 5)), ("Others", (1, 3), (1, 5)), ("Recent", (4, 5), (1, 2))]
    out = rfm_segments(rfm_scores(SUMMARY), simple, segment_col="group")
    assert dict(zip(out["customer_id"], out["group"], strict=True)) == {
        "A": "Fans", "B": "Recent", "C": "Others", "D": "Others", "E": "Others", "F": "Others"}


def test_a_map_with_a_hole_or_an_overlap_is_refused() -> None:
    # Lost is R 1 with F + M in 2..5: 1 + 2 + 3 + 4 = 10 combinations
    hole = r"leaves 10 of 125 score combinations unmapped, e.g. R=1, F=1, M=1"
    with pytest.raises(ValidationFailed, match=hole) as err:
        rfm_segments(SUMMARY.head(0).with_columns(R=0, F=0, M=0), list(DEFAULT_SEGMENTS[:-1]))
    assert err.value.field == "segment_map"
    overlap = [*DEFAULT_SEGMENTS, ("Everyone", (1, 5), (1, 5))]
    twice = r"puts R=1, F=1, M=1 \(FM=1\) in more than one segment: 'Lost' and 'Everyone'"
    with pytest.raises(ValidationFailed, match=twice):
        validate_segment_map(overlap)
    with pytest.raises(ValidationFailed, match=r"segment 'X' has R range \(0, 5\)"):
        validate_segment_map([("X", (0, 5), (1, 5))])
    with pytest.raises(ValidationFailed, match="must be \\(name, \\(r_low, r_high\\), \\(fm_low, fm_high\\)\\)"):
        validate_segment_map([("X", 5)])  # type: ignore[list-item]


def test_missing_scores_get_no_segment_and_kinds_round_trip() -> None:
    scores = pl.DataFrame({"R": [5, None], "F": [5, 1], "M": [5, 1]}, schema={"R": pl.Int8, "F": pl.Int8, "M": pl.Int8})
    assert rfm_segments(scores)["segment"].to_list() == ["Champions", None]
    lazy = rfm_scores(SUMMARY.lazy())
    arrow = rfm_segments(rfm_scores(SUMMARY.to_arrow()))
    assert isinstance(lazy, pl.LazyFrame) and isinstance(arrow, pa.Table)
    assert pl.from_arrow(arrow).equals(rfm_segments(lazy).collect())


def test_missing_column_is_named() -> None:
    with pytest.raises(ValidationFailed, match="has no column 'total_spend'") as err:
        rfm_scores(SUMMARY.drop("total_spend"))
    assert err.value.field == "total_spend"
