"""The calibration/holdout check: holdout lengths, exact occasion counts, the forecast, the tables, the refusals."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ravingfans.analytics.btyd import BgNbdFit, NotEnoughData, ParetoNbdFit, bgnbd
from ravingfans.analytics.btyd.fitting import DAYS_PER_MONTH
from ravingfans.analytics.holdout import decile_table, holdout_check, parse_holdout
from ravingfans.analytics.summary import compress, customer_summary
from ravingfans.errors import ValidationFailed

ZONE = "America/New_York"
START = datetime(2022, 1, 1, tzinfo=UTC)
FACTORS = {"d": 1.0, "day": 1.0, "days": 1.0, "w": 7.0, "week": 7.0, "weeks": 7.0,
           "m": DAYS_PER_MONTH, "month": DAYS_PER_MONTH, "months": DAYS_PER_MONTH, "y": 365.25, "years": 365.25}


def _ledger(seed: int, customers: int = 400, days: int = 730) -> pl.DataFrame:
    """Orders at any hour (so UTC and shop days differ), some customers with several orders a day, refunds
    on the day and weeks later; each customer buys at their own rate until they stop."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, datetime, float]] = []
    for c in range(customers):
        rate, stop = rng.gamma(0.9, 1 / 30), rng.exponential(days)
        t = rng.uniform(0, days * 0.8)
        k = 0
        while t < min(stop, days):
            at = START + timedelta(days=float(t))
            order = f"o{c}-{k}"
            rows.append((f"c{c:04d}", order, at, round(float(rng.gamma(3, 15)), 2)))
            if rng.random() < 0.1:  # a second order a few hours later, often the same shop day
                rows.append((f"c{c:04d}", order + "b", at + timedelta(hours=3), 12.5))
            if rng.random() < 0.05:  # refunded in full weeks later
                rows.append((f"c{c:04d}", order, at + timedelta(days=20), -rows[-1][3]))
            t += rng.exponential(1 / rate)
            k += 1
    return pl.DataFrame(rows, schema={"customer_id": pl.String, "order_id": pl.String,
                                      "timestamp": pl.Datetime("us", "UTC"), "amount": pl.Float64}, orient="row")


@pytest.fixture(scope="module")
def ledger() -> pl.DataFrame:
    return _ledger(11)


def _oracle(ledger: pl.DataFrame, cal_end: date, obs_end: date, order_ids: bool) -> dict[str, tuple[int, float]]:
    """Holdout occasions and spend per customer, counted row by row in plain Python."""
    zone = ZoneInfo(ZONE)
    rows = [r for r in ledger.iter_rows(named=True) if cal_end < r["timestamp"].astimezone(zone).date() <= obs_end]
    start: dict[tuple[str, str], datetime] = {}
    for r in rows:
        key = (r["customer_id"], r["order_id"])
        start[key] = min(start.get(key, r["timestamp"]), r["timestamp"])
    net: dict[tuple[str, date], float] = defaultdict(float)
    for r in rows:
        at = start[(r["customer_id"], r["order_id"])] if order_ids else r["timestamp"]
        net[(r["customer_id"], at.astimezone(zone).date())] += r["amount"]
    out: dict[str, tuple[int, float]] = {}
    for (cust, _), amount in net.items():  # purchases are days netting above 0; spend nets every day
        n, s = out.get(cust, (0, 0.0))
        out[cust] = (n + (amount > 0), s + amount)
    return {cust: (n, s) for cust, (n, s) in out.items() if n}


@pytest.mark.parametrize("order_ids", [False, True])
def test_actual_holdout_purchases_match_a_row_by_row_count(ledger: pl.DataFrame, order_ids: bool) -> None:
    res = holdout_check(ledger, holdout="26w", timezone_name=ZONE, order_id_col="order_id" if order_ids else None)
    want = _oracle(ledger, res.calibration_end, res.observation_end, order_ids)
    got = {r["customer_id"]: (r["actual"], r["actual_spend"]) for r in res.customers.iter_rows(named=True)}
    assert {c: n for c, (n, _) in got.items() if n} == {c: n for c, (n, _) in want.items() if c in got}
    for cust, (_, spend) in got.items():
        assert spend == pytest.approx(want.get(cust, (0, 0.0))[1])
    # customers who first bought in the holdout are not forecast, only counted
    cal_ids = set(got)
    assert res.new_customers == len(set(want) - cal_ids) > 0
    assert res.actual_purchases == sum(n for c, (n, _) in want.items() if c in cal_ids)


def test_calibration_is_the_summary_up_to_the_calibration_end(ledger: pl.DataFrame) -> None:
    res = holdout_check(ledger, holdout="180d", timezone_name=ZONE)
    last = ledger.get_column("timestamp").max().astimezone(ZoneInfo(ZONE)).date()
    assert res.observation_end == last and res.calibration_end == last - timedelta(days=180)
    assert res.holdout_days == 180
    cal = customer_summary(ledger, observation_end=res.calibration_end, timezone_name=ZONE).filter(pl.col("T") > 0)
    assert res.customers.select("customer_id", "frequency_cal", "recency_cal", "T_cal").rows() == \
        cal.select("customer_id", "frequency", "recency", "T").rows()
    fit = bgnbd.fit(compress(cal))
    assert isinstance(res.purchase_fit, BgNbdFit)
    assert res.purchase_fit.r == pytest.approx(fit.r) and res.purchase_fit.b == pytest.approx(fit.b)
    want = fit.conditional_expected_purchases(180, cal["frequency"], cal["recency"], cal["T"])
    assert np.allclose(res.customers["predicted"].to_numpy(), want)
    assert res.predicted_purchases == pytest.approx(float(want.sum()))
    assert res.relative_error == pytest.approx((res.predicted_purchases - res.actual_purchases) / res.actual_purchases)


def test_spend_forecast_is_purchases_times_expected_spend(ledger: pl.DataFrame) -> None:
    res = holdout_check(ledger, holdout="26w")
    assert res.spend_fit is not None and res.spend_note is None
    c = res.customers
    cal = customer_summary(ledger, observation_end=res.calibration_end).filter(pl.col("T") > 0)
    per = res.spend_fit.conditional_expected_average_spend(cal["frequency"], cal["monetary_value"])
    assert np.allclose(c["predicted_spend"].to_numpy(), c["predicted"].to_numpy() * per)
    assert res.predicted_spend == pytest.approx(float(c["predicted_spend"].sum()))
    assert res.actual_spend == pytest.approx(float(c["actual_spend"].sum()))


def test_without_amounts_every_day_counts_and_spend_is_not_forecast(ledger: pl.DataFrame) -> None:
    res = holdout_check(ledger.drop("amount"), holdout="26w", monetary_value_col=None)
    assert res.spend_fit is None and res.predicted_spend is None and "spend" in (res.spend_note or "")
    assert "predicted_spend" not in res.customers.columns
    assert res.as_dict()["spend"] is None


def test_decile_table_adds_up_and_ranks_by_forecast(ledger: pl.DataFrame) -> None:
    res = holdout_check(ledger, holdout="26w")
    d = res.deciles
    assert d["decile"].to_list() == list(range(1, 11))
    assert d["customers"].sum() == res.customers.height and d["customers"].max() - d["customers"].min() <= 1
    assert d["predicted_total"].sum() == pytest.approx(res.predicted_purchases)
    assert d["actual_total"].sum() == res.actual_purchases
    assert np.all(np.diff(d["predicted_mean"].to_numpy()) <= 1e-12)
    f = res.by_frequency
    assert f["frequency_cal"].to_list()[:2] == ["0", "1"] and f["frequency_cal"][-1] == "7+"
    assert f["customers"].sum() == res.customers.height and f["actual_total"].sum() == res.actual_purchases


@given(n=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
@hsettings(max_examples=60, deadline=None)
def test_decile_groups_are_near_equal_whatever_the_size(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame({"predicted": rng.choice([0.1, 0.5, 2.0], n), "actual": rng.integers(0, 4, n)})
    d = decile_table(frame)
    assert d["customers"].sum() == n and d.height == min(n, 10)
    if n:
        assert d["customers"].max() - d["customers"].min() <= 1
        assert d["actual_total"].sum() == frame["actual"].sum()
        means = d["predicted_mean"].to_numpy()
        assert np.all(np.diff(means) <= 1e-12)  # highest forecasts first (means of equal values may differ by ulps)


def test_pareto_nbd_and_other_table_kinds(ledger: pl.DataFrame) -> None:
    res = holdout_check(ledger.lazy(), calibration_end=date(2023, 6, 30), observation_end=date(2023, 12, 31),
                        model="paretonbd")
    assert isinstance(res.purchase_fit, ParetoNbdFit) and res.holdout_days == 184
    arrow = holdout_check(ledger.to_arrow(), calibration_end=date(2023, 6, 30), observation_end=date(2023, 12, 31))
    assert arrow.actual_purchases == res.actual_purchases
    assert json.loads(json.dumps(res.as_dict()))["parameters"]["purchases"]["s"]["value"] > 0


def test_customers_first_seen_on_the_calibration_end_are_left_out(ledger: pl.DataFrame) -> None:
    cal_end = date(2023, 6, 30)
    noon = datetime(2023, 6, 30, 12, tzinfo=UTC)
    late = pl.DataFrame({"customer_id": ["late"], "order_id": ["x"], "timestamp": [noon], "amount": [10.0]},
                        schema=ledger.schema)
    res = holdout_check(pl.concat([ledger, late]), calibration_end=cal_end, observation_end=date(2023, 12, 31))
    assert "late" not in res.customers["customer_id"].to_list()
    assert (res.customers["T_cal"] > 0).all()


def test_holdout_longer_than_the_history_is_refused(ledger: pl.DataFrame) -> None:
    with pytest.raises(ValidationFailed, match="longer than the history") as exc:
        holdout_check(ledger, holdout="3y")
    assert exc.value.field == "holdout"
    with pytest.raises(ValidationFailed, match="longer than the history"):
        holdout_check(ledger, holdout="999999y")


def test_bad_periods_are_refused(ledger: pl.DataFrame) -> None:
    with pytest.raises(ValidationFailed, match="must come before the observation end"):
        holdout_check(ledger, calibration_end=date(2023, 12, 31), observation_end=date(2023, 12, 31))
    with pytest.raises(ValidationFailed, match="must come after the first purchase"):
        holdout_check(ledger, holdout="1w", observation_end=date(2021, 6, 1))
    with pytest.raises(ValidationFailed, match="not both or neither"):
        holdout_check(ledger)
    with pytest.raises(ValidationFailed, match="not both or neither"):
        holdout_check(ledger, holdout="26w", calibration_end=date(2023, 1, 1))
    with pytest.raises(ValidationFailed, match="must be a date"):
        holdout_check(ledger, calibration_end=datetime(2023, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationFailed, match="whole number of days"):
        holdout_check(ledger, holdout=timedelta(hours=36))
    with pytest.raises(ValidationFailed, match="no column 'when'"):
        holdout_check(ledger, holdout="26w", datetime_col="when")
    with pytest.raises(ValidationFailed, match="holds no sale with a customer"):
        holdout_check(ledger.with_columns(pl.lit(None, pl.String).alias("customer_id")), holdout="26w")


def test_no_calibration_customers_is_refused(ledger: pl.DataFrame) -> None:
    """Only sales without a customer before the calibration end: nobody to calibrate on."""
    early = ledger.filter(pl.col("timestamp") < datetime(2023, 7, 1, tzinfo=UTC)).with_columns(
        pl.lit("anon").alias("customer_id"), -pl.col("amount").abs())
    later = ledger.filter(pl.col("timestamp") >= datetime(2023, 7, 1, tzinfo=UTC))
    with pytest.raises(ValidationFailed, match="no customer bought before the calibration end"):
        holdout_check(pl.concat([early, later]), calibration_end=date(2023, 6, 30))


def test_too_few_repeat_buyers_raise_not_enough_data() -> None:
    tiny = _ledger(3, customers=12)
    with pytest.raises(NotEnoughData, match="Not enough repeat buyers"):
        holdout_check(tiny, holdout="8w")


@given(n=st.integers(1, 9999), unit=st.sampled_from(sorted(FACTORS)), upper=st.booleans(),
       pad=st.sampled_from(["", " ", "  "]))
def test_parse_holdout_lengths(n: int, unit: str, upper: bool, pad: str) -> None:
    text = f"{pad}{n}{pad}{unit.upper() if upper else unit}{pad}"
    assert parse_holdout(text) == timedelta(days=round(n * FACTORS[unit]))


def test_parse_holdout_documented_examples() -> None:
    assert [parse_holdout(t).days for t in ("26w", "180d", "6m", "1m", "12m", "1y")] == [182, 180, 183, 30, 365, 365]


@given(st.text(max_size=12))
def test_parse_holdout_refuses_anything_else_clearly(text: str) -> None:
    try:
        days = parse_holdout(text).days
    except ValidationFailed as exc:
        assert exc.field == "holdout" and "\n" not in exc.message
        return
    assert days >= 1 and text.strip()[0].isdigit()


@pytest.mark.parametrize("text", ["0d", "0w", "", "w", "26", "-3w", "2.5w", "26x", "26 fortnights", "1e3d"])
def test_parse_holdout_refusals(text: str) -> None:
    with pytest.raises(ValidationFailed, match="holdout"):
        parse_holdout(text)
