"""slipping_fans and spend_trend: who was a fan, which signal fired, the words, and the order by value at risk."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ravingfans.analytics.lapse import SLIPPING_COLUMNS, slipping_fans, spend_trend
from ravingfans.analytics.scoring import score_customers
from ravingfans.analytics.summary import customer_summary
from ravingfans.errors import ValidationFailed


def _row(cid: str, **kw: object) -> dict[str, object]:
    """A fan by default: FM 5, 10 visits every 41 days, 20 days since the last, model says alive."""
    row: dict[str, object] = {"customer_id": cid, "segment": "Champions", "FM": 5, "purchases": 10,
                              "total_spend": 4000.0, "mean_gap": 41.0, "gap_std": 10.0, "recency": 369.0,
                              "days_since_last": 20.0, "p_alive": 0.95, "clv": 3000.0}
    row.update(kw)
    return row


def _scores(*rows: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema={
        "customer_id": pl.String, "segment": pl.String, "FM": pl.Int8, "purchases": pl.Int64,
        "total_spend": pl.Float64, "mean_gap": pl.Float64, "gap_std": pl.Float64, "recency": pl.Float64,
        "days_since_last": pl.Float64, "p_alive": pl.Float64, "clv": pl.Float64})


def _reasons(frame: pl.DataFrame) -> dict[str, str]:
    return dict(zip(frame["customer_id"], frame["reason"], strict=True))


RATINGS = pl.DataFrame({
    "customer_id": ["A"] * 5 + ["B"] * 2,
    "occurred_at": [datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 3, 4, 5)]
    + [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)],
    "rating": [1, 1, 0, -1, -1, -1, 1],
})


def test_the_reason_in_words() -> None:
    scores = _scores(_row("A", days_since_last=150.0, p_alive=0.2), _row("B", days_since_last=30.0))
    out = slipping_fans(scores, ratings=RATINGS)
    assert _reasons(out) == {
        "A": "buys every 41 days on average; 150 days since the last visit; "
             "20% chance they are still a customer; last two contacts rated misery",
    }
    assert list(out.columns) == list(SLIPPING_COLUMNS)
    row = out.row(0, named=True)
    assert (row["overdue"], row["p_alive_low"], row["ratings_worse"], row["spend_falling"]) == (True, True, True, False)
    assert row["signals"] == 3 and row["misery_streak"] == 2 and row["rank"] == 1


def test_overdue_needs_both_twice_the_gap_and_two_spreads() -> None:
    # threshold = max(2 * 41, 41 + 2 * 30) = 101 days: 90 days is not overdue, 102 is
    scores = _scores(_row("A", gap_std=30.0, days_since_last=90.0, p_alive=None),
                     _row("B", gap_std=30.0, days_since_last=102.0, p_alive=None),
                     _row("C", gap_std=None, days_since_last=83.0, p_alive=None))  # no spread: 2 x 41
    out = slipping_fans(scores)
    assert sorted(out["customer_id"]) == ["B", "C"]
    assert out.filter(pl.col("customer_id") == "B")["overdue_ratio"][0] == pytest.approx(102 / 41)


def test_ranked_by_value_at_risk() -> None:
    # annual value = 365 * spend / max(recency + mean_gap, 365); risk = 1 - p_alive
    scores = _scores(
        _row("small", total_spend=1000.0, days_since_last=300.0, p_alive=0.01),
        _row("big", total_spend=9000.0, days_since_last=300.0, p_alive=0.8),  # worth most, but likely still here
        _row("middle", total_spend=5000.0, recency=800.0, days_since_last=300.0, p_alive=0.1),
    )
    out = slipping_fans(scores)
    assert out["customer_id"].to_list() == ["middle", "big", "small"]
    expected = {"small": 365 * 1000 / 410 * 0.99, "big": 365 * 9000 / 410 * 0.2, "middle": 365 * 5000 / 841 * 0.9}
    for cid, value in expected.items():
        assert out.filter(pl.col("customer_id") == cid)["value_at_risk"][0] == pytest.approx(value)
    assert out["rank"].to_list() == [1, 2, 3]
    assert slipping_fans(scores, top=2)["customer_id"].to_list() == ["middle", "big"]


def test_a_short_history_is_not_extrapolated_to_a_year() -> None:
    # 4 visits in 60 days spending 800: worth 800 a year, not 365 * 800 / 80
    out = slipping_fans(_scores(_row("A", purchases=4, total_spend=800.0, recency=60.0, mean_gap=20.0,
                                     gap_std=5.0, days_since_last=200.0, p_alive=0.0)))
    assert out["annual_value"][0] == pytest.approx(800.0)


def test_non_fans_are_never_listed() -> None:
    gone = {"days_since_last": 900.0, "p_alive": 0.001}
    scores = _scores(_row("low FM", FM=3, **gone), _row("two visits", purchases=2, **gone), _row("fan", **gone))
    assert slipping_fans(scores)["customer_id"].to_list() == ["fan"]
    assert sorted(slipping_fans(scores, fan_min_fm=3, min_purchases=2)["customer_id"]) == ["fan", "low FM",
                                                                                           "two visits"]


def test_without_a_model_the_rhythm_alone_decides() -> None:
    scores = _scores(_row("overdue", days_since_last=123.0, p_alive=None),
                     _row("on time", days_since_last=45.0, p_alive=None))
    out = slipping_fans(scores)
    assert out["customer_id"].to_list() == ["overdue"]
    row = out.row(0, named=True)
    assert row["reason"] == "buys every 41 days on average; 123 days since the last visit"
    assert row["risk"] == pytest.approx(1 - math.exp(-(123 - 41) / 41))
    assert not row["p_alive_low"] and row["p_alive"] is None
    # a scores table with no p_alive column at all works the same
    assert slipping_fans(scores.drop("p_alive", "clv", "segment"))["customer_id"].to_list() == ["overdue"]


def test_previous_snapshot_drop() -> None:
    scores = _scores(_row("A", p_alive=0.55), _row("B", p_alive=0.9), _row("C", p_alive=0.7))
    previous = pl.DataFrame({"customer_id": ["A", "B", "C"], "p_alive": [0.95, 0.92, 0.9]})
    out = slipping_fans(scores, previous=previous)
    assert _reasons(out) == {"A": "chance they are still a customer fell from 95% to 55% since the last scoring"}
    assert out["previous_p_alive"][0] == pytest.approx(0.95) and out["p_alive_dropped"][0]
    assert slipping_fans(scores).height == 0  # nothing else is wrong with them
    assert slipping_fans(scores, previous=previous, p_alive_drop=0.15)["customer_id"].sort().to_list() == ["A", "C"]


def test_ratings_signal() -> None:
    # C's last three are much worse than the three before (mean -0.67 vs +1.00)
    c = pl.DataFrame({"customer_id": ["C"] * 6,
                      "occurred_at": [datetime(2024, 1, d, tzinfo=UTC) for d in range(1, 7)],
                      "rating": [1, 1, 1, 0, -1, -1]})
    ratings = pl.concat([RATINGS, c, pl.DataFrame({"customer_id": ["A"], "occurred_at": [datetime(2024, 6, 1)],
                                                   "rating": [None]}, schema=RATINGS.schema)])
    scores = _scores(_row("A"), _row("B"), _row("C"))
    out = slipping_fans(scores, ratings=ratings, soft_signals=1)
    assert _reasons(out) == {
        "A": "last two contacts rated misery",  # the unrated contact on 1 June does not break the streak
        "C": "last two contacts rated misery",
    }
    out = slipping_fans(scores, ratings=ratings, soft_signals=1, misery_streak=3)
    assert _reasons(out) == {"C": "recent contacts rated worse than before (average -0.67 against +1.00)"}
    # ratings after the cut-off are not known yet: A's misery came in April and May
    early = slipping_fans(scores, ratings=ratings, soft_signals=1, ratings_until=date(2024, 3, 31))
    assert early["customer_id"].to_list() == ["C"]
    # one soft signal alone does not list a fan by default
    assert slipping_fans(scores, ratings=ratings).height == 0


def test_spend_trend_and_falling_spend() -> None:
    day = datetime(2024, 1, 1, 12, tzinfo=UTC)
    amounts = [100.0, 120.0, 110.0, 40.0, 30.0, 50.0]
    tx = pl.DataFrame({
        "customer_id": ["A"] * 6 + ["B"] * 4 + ["A"],
        "timestamp": [day + timedelta(days=30 * i) for i in range(6)] + [day + timedelta(days=i) for i in range(4)]
        + [day + timedelta(days=150, hours=1)],  # a second receipt on A's last day
        "amount": amounts + [10.0] * 4 + [5.0],
    })
    trend = spend_trend(tx, observation_end=date(2024, 12, 31))
    assert trend.columns == ["customer_id", "recent_occasions", "recent_spend", "earlier_occasions", "earlier_spend"]
    assert trend["customer_id"].to_list() == ["A"]  # B has 4 occasions: 3 recent + 1 earlier is too few
    row = trend.row(0, named=True)
    assert row["recent_spend"] == pytest.approx((40 + 30 + 55) / 3)
    assert row["earlier_spend"] == pytest.approx(110.0)
    assert (row["recent_occasions"], row["earlier_occasions"]) == (3, 3)
    # before the cut-off only the first four visits are known
    early = spend_trend(tx, observation_end=date(2024, 4, 1), recent_occasions=2)
    assert early.row(0, named=True)["recent_spend"] == pytest.approx(75.0)

    out = slipping_fans(_scores(_row("A")), spend=trend, soft_signals=1)
    assert _reasons(out) == {"A": "spends 42 a visit on the last 3 visits, down from 110 before"}
    assert slipping_fans(_scores(_row("A")), spend=trend).height == 0


def test_bad_columns_and_parameters_are_named() -> None:
    scores = _scores(_row("A"))
    with pytest.raises(ValidationFailed, match="the scores table has no column 'mean_gap'") as err:
        slipping_fans(scores.drop("mean_gap"))
    assert err.value.field == "mean_gap"
    with pytest.raises(ValidationFailed, match="the scores table has no column 'cid'"):
        slipping_fans(scores, customer_id_col="cid")
    with pytest.raises(ValidationFailed, match="the ratings table has no column 'occurred_at'"):
        slipping_fans(scores, ratings=RATINGS.rename({"occurred_at": "at"}))
    with pytest.raises(ValidationFailed, match="the previous scores table has no column 'p_alive'"):
        slipping_fans(scores, previous=pl.DataFrame({"customer_id": ["A"]}))
    with pytest.raises(ValidationFailed, match="the transactions table has no column 'amount'"):
        spend_trend(pl.DataFrame({"customer_id": ["A"], "timestamp": [date(2024, 1, 1)]}),
                    observation_end=date(2024, 2, 1))
    with pytest.raises(ValidationFailed, match="p_alive_below must be a share"):
        slipping_fans(scores, p_alive_below=1.5)
    with pytest.raises(ValidationFailed, match="fan_min_fm must be a whole number between 1 and 5"):
        slipping_fans(scores, fan_min_fm=6)
    with pytest.raises(ValidationFailed, match="top must be"):
        slipping_fans(scores, top=0)


def test_integer_ids_and_a_real_scores_table() -> None:
    # Built the way the product builds it: summary -> score_customers (BG/NBD fitted). Customer 1 bought
    # 200 a visit every 10 days, then stopped 200 days before the end; 2..150 buy 60 at random (every 15
    # days on average) and may drop out after any purchase; 151..200 bought once.
    rng = np.random.default_rng(11)
    start = datetime(2023, 1, 1, 12, tzinfo=UTC)
    end = date(2024, 12, 31)
    rows: list[tuple[int, datetime, float]] = []
    t = start
    while t.date() <= end - timedelta(days=200):
        rows.append((1, t, 200.0))
        t += timedelta(days=10)
    for c in range(2, 201):
        t = start + timedelta(days=int(rng.integers(0, 200)))
        while t.date() <= end:
            rows.append((c, t, 60.0))
            if c > 150 or rng.random() < 0.03:
                break
            t += timedelta(days=float(rng.exponential(15.0)))
    tx = pl.DataFrame(rows, schema={"customer_id": pl.Int64, "timestamp": pl.Datetime("us", "UTC"),
                                    "amount": pl.Float64}, orient="row")
    scoring = score_customers(customer_summary(tx, observation_end=end))
    assert scoring.bgnbd is not None
    out = slipping_fans(scoring.table, spend=spend_trend(tx, observation_end=end))
    assert out["customer_id"][0] == 1 and out["rank"][0] == 1
    silent = (end - tx.filter(pl.col("customer_id") == 1)["timestamp"].max().date()).days
    assert silent >= 200
    assert out["reason"][0].startswith(f"buys every 10 days on average; {silent} days since the last visit; ")
    assert out["p_alive"][0] < 0.01
    assert set(out["customer_id"]) <= set(scoring.table.filter(pl.col("FM") >= 4)["customer_id"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 30), st.floats(5, 120), st.floats(0, 800),
                          st.one_of(st.none(), st.floats(0, 1)), st.floats(10, 10_000)),
                min_size=1, max_size=40))
def test_listed_rows_are_fans_with_a_reason_in_value_order(rows: list[tuple]) -> None:
    scores = _scores(*(_row(f"C{i}", FM=fm, purchases=n, mean_gap=g, gap_std=g / 3,
                            recency=g * (n - 1), days_since_last=d, p_alive=p, total_spend=s)
                       for i, (fm, n, g, d, p, s) in enumerate(rows)))
    out = slipping_fans(scores)
    assert (out["FM"] >= 4).all() and (out["purchases"] >= 3).all()
    assert all(r for r in out["reason"])
    values = out["value_at_risk"].to_list()
    assert values == sorted(values, reverse=True)
    assert out["rank"].to_list() == list(range(1, out.height + 1))
    listed = set(out["customer_id"])
    for i, (fm, n, g, d, p, _s) in enumerate(rows):
        gone = d > max(2 * g, g + 2 * g / 3) or (p is not None and p < 0.5)
        assert (f"C{i}" in listed) == (fm >= 4 and n >= 3 and gone)
