"""customer_summary and compress: occasions, netting, units and lifetimes' conventions."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ravingfans.analytics import compress, customer_summary
from ravingfans.errors import ValidationFailed

END = date(2024, 3, 31)


def _tx(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"customer_id": pl.String, "timestamp": pl.Datetime("us", "UTC"), "amount": pl.Int64},
        orient="row",
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# amounts in cents
LEDGER = _tx([
    ("a", utc(2024, 3, 1, 10), 2000),
    ("a", utc(2024, 3, 1, 16, 30), 1000),   # same day: one occasion of 3000
    ("a", utc(2024, 3, 4, 11), 1500),
    ("a", utc(2024, 3, 4, 12), -500),       # return the same day: occasion of 1000
    ("a", utc(2024, 3, 11, 9), 800),
    ("a", utc(2024, 3, 11, 17), -800),      # fully refunded: no purchase
    ("a", utc(2024, 3, 15, 14), 2500),
    ("a", utc(2024, 4, 2, 9), 9999),        # after the observation end: ignored
    ("b", utc(2024, 3, 20, 13), 4000),
    ("c", utc(2024, 3, 5, 10), 1200),
    ("c", utc(2024, 3, 25, 10), 600),
    ("d", utc(2024, 3, 10, 10), -300),      # only a refund: never a customer here
    ("e", utc(2024, 4, 5, 10), 700),        # first purchase after the end: absent
    (None, utc(2024, 3, 6, 10), 5000),      # anonymous sale: ignored
])


def _rows(summary: pl.DataFrame) -> dict[str, dict]:
    return {r["customer_id"]: r for r in summary.to_dicts()}


def test_hand_worked_example_in_days() -> None:
    rows = _rows(customer_summary(LEDGER, observation_end=END))
    assert set(rows) == {"a", "b", "c"}
    a = rows["a"]
    # occasions: Mar 1 (2000+1000=3000), Mar 4 (1500-500=1000), Mar 15 (2500); Mar 11 nets to 0
    assert (a["first_purchase"], a["last_purchase"]) == (date(2024, 3, 1), date(2024, 3, 15))
    assert a["purchases"] == 3 and a["frequency"] == 2
    assert a["recency"] == 14.0          # Mar 1 -> Mar 15
    assert a["T"] == 30.0                # Mar 1 -> Mar 31
    assert a["monetary_value"] == 1750.0  # (1000 + 2500) / 2 repeat occasions
    assert a["total_spend"] == 6500       # 3000 + 1000 + 2500
    assert a["mean_gap"] == 7.0           # gaps 3 and 11 days
    assert a["gap_std"] == pytest.approx(math.sqrt(((3 - 7) ** 2 + (11 - 7) ** 2) / 1))  # sample sd = sqrt(32)
    b = rows["b"]
    assert (b["purchases"], b["frequency"], b["recency"], b["T"]) == (1, 0, 0.0, 11.0)
    assert (b["monetary_value"], b["total_spend"], b["mean_gap"], b["gap_std"]) == (0.0, 4000, None, None)
    c = rows["c"]
    assert (c["frequency"], c["recency"], c["T"], c["monetary_value"], c["total_spend"]) == (1, 20.0, 26.0, 600.0, 1800)
    assert (c["mean_gap"], c["gap_std"]) == (20.0, None)  # one gap: no spread


def test_weeks_rescale_durations_but_keep_daily_occasions() -> None:
    days = _rows(customer_summary(LEDGER, observation_end=END))
    weeks = _rows(customer_summary(LEDGER, observation_end=END, time_unit="W"))
    custom = _rows(customer_summary(LEDGER, observation_end=END, time_unit=timedelta(days=7)))
    assert weeks["a"]["recency"] == 2.0 and weeks["a"]["T"] == pytest.approx(30 / 7)
    assert weeks["a"]["mean_gap"] == 1.0 and weeks["a"]["gap_std"] == pytest.approx(math.sqrt(32) / 7)
    for cid in days:
        assert weeks[cid]["purchases"] == days[cid]["purchases"]
        assert weeks[cid]["monetary_value"] == days[cid]["monetary_value"]
        assert weeks[cid]["T"] == pytest.approx(days[cid]["T"] / 7)
        assert custom[cid] == weeks[cid]


def test_same_day_orders_count_once_and_sum() -> None:
    tx = _tx([("x", utc(2024, 3, 2, 8), 100), ("x", utc(2024, 3, 2, 12), 200), ("x", utc(2024, 3, 2, 23, 59), 300)])
    (row,) = customer_summary(tx, observation_end=END).to_dicts()
    assert (row["purchases"], row["frequency"], row["total_spend"]) == (1, 0, 600)


def test_refunds_net_and_a_fully_refunded_day_is_no_purchase() -> None:
    tx = _tx([("x", utc(2024, 3, 2), 1000), ("x", utc(2024, 3, 2, 18), -250),
              ("x", utc(2024, 3, 9), 400), ("x", utc(2024, 3, 9, 1), -400),
              ("x", utc(2024, 3, 16), 300), ("x", utc(2024, 3, 16, 2), -500)])
    (row,) = customer_summary(tx, observation_end=END).to_dicts()
    # Mar 9 and Mar 16 are no purchase, but the Mar 16 net refund (-200) still lowers total spend.
    assert (row["purchases"], row["total_spend"], row["last_purchase"]) == (1, 550, date(2024, 3, 2))


def test_order_id_attributes_a_later_refund_to_its_order() -> None:
    tx = pl.DataFrame({
        "customer_id": [1, 1, 1], "order_id": ["A", "A", "B"],
        "timestamp": [utc(2024, 3, 1), utc(2024, 3, 10), utc(2024, 3, 20)], "amount": [1000, -400, 500],
    })
    plain = customer_summary(tx, observation_end=END).row(0, named=True)
    by_order = customer_summary(tx, observation_end=END, order_id_col="order_id").row(0, named=True)
    assert (plain["purchases"], plain["total_spend"]) == (2, 1100)  # the Mar 10 refund is no purchase, but is spent
    assert (by_order["purchases"], by_order["total_spend"], by_order["monetary_value"]) == (2, 1100, 500.0)
    no_ids = customer_summary(tx.with_columns(order_id=None), observation_end=END, order_id_col="order_id")
    assert no_ids.row(0, named=True) == plain  # lines without an order id keep their own day


def test_transactions_after_the_observation_end_are_ignored() -> None:
    tx = _tx([("x", utc(2024, 3, 1), 100), ("x", utc(2024, 3, 31, 12), 100), ("x", utc(2024, 3, 31, 18), 100)])
    at_noon = customer_summary(tx, observation_end=datetime(2024, 3, 31, 12)).row(0, named=True)  # naive = UTC
    whole_day = customer_summary(tx, observation_end=date(2024, 3, 31)).row(0, named=True)
    assert (at_noon["total_spend"], at_noon["T"]) == (200, 30.0)
    assert (whole_day["total_spend"], whole_day["T"]) == (300, 30.0)


def test_days_are_taken_in_the_shops_time_zone() -> None:
    tx = _tx([("x", utc(2024, 3, 1, 23, 30), 100), ("x", utc(2024, 3, 2, 0, 30), 100)])
    assert customer_summary(tx, observation_end=END)["purchases"].to_list() == [2]
    berlin = customer_summary(tx, observation_end=END, timezone_name="Europe/Berlin")
    assert berlin["purchases"].to_list() == [1] and berlin["first_purchase"].to_list() == [date(2024, 3, 2)]


def test_naive_datetimes_and_dates_and_column_names() -> None:
    tx = pl.DataFrame({"who": [7, 7], "when": [date(2024, 3, 1), date(2024, 3, 8)], "cents": [5, 7]})
    row = customer_summary(tx, observation_end=END, customer_id_col="who", datetime_col="when",
                           monetary_value_col="cents").row(0, named=True)
    assert (row["who"], row["frequency"], row["recency"], row["monetary_value"]) == (7, 1, 7.0, 7.0)
    naive = tx.with_columns(pl.col("when").cast(pl.Datetime("us")))
    assert customer_summary(naive, observation_end=END, customer_id_col="who", datetime_col="when",
                            monetary_value_col="cents").row(0, named=True) == row


def test_without_amounts_every_day_is_an_occasion() -> None:
    out = customer_summary(LEDGER.drop("amount"), observation_end=END, monetary_value_col=None)
    assert "monetary_value" not in out.columns and "total_spend" not in out.columns
    assert _rows(out)["d"]["purchases"] == 1 and _rows(out)["a"]["purchases"] == 4


def test_kind_in_is_kind_out() -> None:
    eager = customer_summary(LEDGER, observation_end=END)
    lazy = customer_summary(LEDGER.lazy(), observation_end=END)
    arrow = customer_summary(LEDGER.to_arrow(), observation_end=END)
    assert isinstance(lazy, pl.LazyFrame) and isinstance(arrow, pa.Table)
    assert lazy.collect().equals(eager) and pl.from_arrow(arrow).equals(eager)


def test_missing_column_names_the_column() -> None:
    with pytest.raises(ValidationFailed, match="has no column 'amount'") as err:
        customer_summary(LEDGER.drop("amount"), observation_end=END)
    assert err.value.field == "amount"
    with pytest.raises(ValidationFailed) as err:
        customer_summary(LEDGER, observation_end=END, customer_id_col="client")
    assert err.value.field == "client"


def test_wrong_dtypes_and_units_are_refused() -> None:
    as_text = LEDGER.with_columns(pl.col("timestamp").cast(pl.String))
    with pytest.raises(ValidationFailed, match="'timestamp' must hold dates or datetimes") as err:
        customer_summary(as_text, observation_end=END)
    assert err.value.field == "timestamp"
    with pytest.raises(ValidationFailed, match="'amount' must hold numbers"):
        customer_summary(LEDGER.with_columns(pl.col("amount").cast(pl.String)), observation_end=END)
    with pytest.raises(ValidationFailed, match="time_unit must be 'D', 'W' or a timedelta") as err:
        customer_summary(LEDGER, observation_end=END, time_unit="M")  # type: ignore[arg-type]
    assert err.value.field == "time_unit"
    with pytest.raises(ValidationFailed, match="time_unit must be positive"):
        customer_summary(LEDGER, observation_end=END, time_unit=timedelta(0))


def test_observation_end_before_the_data_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="observation_end 2024-01-01 is before the first transaction") as err:
        customer_summary(LEDGER, observation_end=date(2024, 1, 1))
    assert err.value.field == "observation_end"


def test_compress_counts_distinct_frequency_recency_T() -> None:
    summary = pl.DataFrame({"frequency": [0, 0, 2, 0], "recency": [0.0, 0.0, 14.0, 0.0], "T": [11.0, 11.0, 30.0, 5.0]})
    assert compress(summary).to_dicts() == [
        {"frequency": 0, "recency": 0.0, "T": 5.0, "count": 1},
        {"frequency": 0, "recency": 0.0, "T": 11.0, "count": 2},
        {"frequency": 2, "recency": 14.0, "T": 30.0, "count": 1},
    ]


# --- properties, against a plain-Python reference --------------------------------------------

BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)
transactions = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 90 * 24), st.integers(-3000, 5000)), max_size=60
)


def _reference(rows: list[tuple[int, int, int]], end_day: int) -> dict[int, tuple]:
    """Plain Python: day buckets, net > 0, then lifetimes' formulas (in days); total spend nets every day."""
    nets: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for cid, hour, amount in rows:
        if hour // 24 <= end_day:
            nets[cid][hour // 24] += amount
    out = {}
    for cid, by_day in nets.items():
        days = sorted(d for d, v in by_day.items() if v > 0)
        if not days:
            continue
        repeat = [by_day[d] for d in days[1:]]
        gaps = [b - a for a, b in zip(days, days[1:], strict=False)]
        out[cid] = (len(days) - 1, float(days[-1] - days[0]), float(end_day - days[0]),
                    sum(repeat) / len(repeat) if repeat else 0.0, sum(by_day.values()),
                    statistics.stdev(gaps) if len(gaps) > 1 else None)
    return out


@settings(max_examples=150, deadline=None)
@given(rows=transactions, end_day=st.integers(0, 100), weekly=st.booleans())
def test_properties_match_a_plain_reference(rows: list[tuple[int, int, int]], end_day: int, weekly: bool) -> None:
    tx = pl.DataFrame(
        [(c, BASE + timedelta(hours=h), a) for c, h, a in rows],
        schema={"customer_id": pl.Int64, "timestamp": pl.Datetime("us", "UTC"), "amount": pl.Int64}, orient="row",
    )
    end = (BASE + timedelta(days=end_day)).date()
    unit = 7.0 if weekly else 1.0
    summary = customer_summary(tx.lazy(), observation_end=end, time_unit="W" if weekly else "D").collect()
    ref = _reference(rows, end_day)
    assert set(summary["customer_id"].to_list()) == set(ref)
    for row in summary.to_dicts():
        assert row["frequency"] == row["purchases"] - 1 >= 0
        assert 0 <= row["recency"] <= row["T"]
        f, recency, T, monetary, total, gap_sd = ref[row["customer_id"]]
        assert row["frequency"] == f and row["total_spend"] == total
        assert row["recency"] == pytest.approx(recency / unit) and row["T"] == pytest.approx(T / unit)
        assert row["monetary_value"] == pytest.approx(monetary)
        assert (row["mean_gap"] is None) == (f < 1) and (row["gap_std"] is None) == (f < 2)
        if gap_sd is not None:
            assert row["gap_std"] == pytest.approx(gap_sd / unit)
    counts = compress(summary)
    assert counts["count"].sum() == summary.height
    assert counts.select("frequency", "recency", "T").is_unique().all()


def test_decimal_money_stays_exact() -> None:
    from decimal import Decimal

    tx = pl.DataFrame({"customer_id": [1, 1, 1], "timestamp": [date(2024, 3, 1), date(2024, 3, 1), date(2024, 3, 5)],
                       "amount": [Decimal("10.50"), Decimal("-0.50"), Decimal("3.25")]})
    row = customer_summary(tx, observation_end=END).row(0, named=True)
    assert (row["purchases"], row["total_spend"], row["monetary_value"]) == (2, Decimal("13.25"), 3.25)


def test_the_packed_key_plan_and_the_general_plan_agree() -> None:
    """Integer ids and dates in range take a packed (customer, day) key; other ids and dates must give the same."""
    import numpy as np

    rng = np.random.default_rng(12)
    n = 3000
    ids = rng.integers(0, 400, n)
    days = rng.integers(0, 900, n)
    base = pl.DataFrame({
        "customer_id": ids,
        "timestamp": [datetime(2023, 1, 1, 12) + timedelta(days=int(d), hours=int(h))
                      for d, h in zip(days, rng.integers(0, 12, n), strict=True)],
        "amount": np.round(rng.gamma(2, 30, n) * np.where(rng.random(n) < 0.1, -1, 1), 2),
    })
    end = date(2025, 12, 31)
    packed = customer_summary(base, observation_end=end, time_unit="W")
    variants = {
        "negative ids": (base.with_columns(-pl.col("customer_id") - 1), -pl.col("customer_id") - 1),
        "string ids": (base.with_columns(pl.col("customer_id").cast(pl.String)), pl.col("customer_id").cast(pl.String)),
    }
    for name, (frame, key) in variants.items():
        general = customer_summary(frame, observation_end=end, time_unit="W")
        expected = packed.with_columns(key)
        assert_frame_equal(general.sort("customer_id"), expected.sort("customer_id"), check_exact=False, rel_tol=1e-12,
                           abs_tol=1e-9), name
    # Dates far outside the packed range: shift everything by 400 years and back.
    shift = timedelta(days=146097)  # 400 Gregorian years: the same weekdays and leap days
    old = customer_summary(base.with_columns(pl.col("timestamp") - shift), observation_end=end - shift, time_unit="W")
    back = old.with_columns(pl.col("first_purchase") + shift, pl.col("last_purchase") + shift)
    assert_frame_equal(back, packed, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)
