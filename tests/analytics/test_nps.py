"""NPS, its intervals, by group and over time, and response rates with Wilson intervals."""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest

from ravingfans.analytics.nps import nps, nps_by, nps_from_counts, nps_trend, response_rate_by, wilson_interval
from ravingfans.errors import ValidationFailed


def test_nps_and_wald_interval_by_hand() -> None:
    # 50 promoters, 30 passives, 20 detractors: NPS = 50 - 20 = 30; Var = (0.5 + 0.2 - 0.3^2) / 100 = 0.0061,
    # se = 100 * sqrt(0.0061) = 7.8102 points; 95% Wald interval 30 +- 1.96 * 7.8102 = (14.69, 45.31).
    r = nps([10] * 25 + [9] * 25 + [8] * 15 + [7] * 15 + [0] * 5 + [6] * 15, interval="wald")
    assert (r.n, r.promoters, r.passives, r.detractors) == (100, 50, 30, 20)
    assert r.nps == pytest.approx(30.0)
    assert r.se == pytest.approx(7.8102, abs=1e-4)
    assert (r.low, r.high) == (pytest.approx(14.692, abs=1e-3), pytest.approx(45.308, abs=1e-3))


def test_adjusted_wald_by_hand() -> None:
    # Adjusted Wald (Rocks 2016; Sauro 2021): n' = 103, p'_P = 50.75/103, p'_D = 20.75/103.
    r = nps_from_counts(50, 30, 20)
    pa, da = 50.75 / 103, 20.75 / 103
    half = 1.959964 * 100 * math.sqrt((pa + da - (pa - da) ** 2) / 103)
    assert r.nps == pytest.approx(30.0)
    assert r.low == pytest.approx(100 * (pa - da) - half, abs=1e-4)
    assert r.high == pytest.approx(100 * (pa - da) + half, abs=1e-4)


def test_small_samples_get_a_real_interval_and_stay_in_range() -> None:
    wald = nps_from_counts(10, 0, 0, interval="wald")
    assert (wald.nps, wald.low, wald.high) == (100.0, 100.0, 100.0)  # the degenerate Wald interval
    adjusted = nps_from_counts(10, 0, 0)
    assert adjusted.nps == 100.0 and adjusted.high == 100.0 and 40 < adjusted.low < 60
    worst = nps_from_counts(0, 0, 3)
    assert worst.nps == -100.0 and worst.low == -100.0 and worst.high > -100.0
    assert nps([]).nps is None and nps([None, float("nan")]).n == 0


def test_nps_refuses_scores_off_the_scale() -> None:
    with pytest.raises(ValidationFailed, match=r"whole numbers from 0 to 10; found 11"):
        nps([3, 11])
    with pytest.raises(ValidationFailed, match=r"found 7.5"):
        nps([7.5])


def test_nps_by_group() -> None:
    frame = pl.DataFrame({"employee": ["ann", "ann", "ann", "bob", "bob", None],
                          "score": [10, 9, 3, 6, 8, 10]})
    out = nps_by(frame, "employee", interval="wald")
    assert out.columns == ["employee", "n", "promoters", "passives", "detractors", "nps", "se", "low", "high"]
    ann = out.row(0, named=True)
    assert ann["employee"] == "ann" and ann["n"] == 3 and ann["nps"] == pytest.approx(100 * (2 - 1) / 3)
    bob = out.row(1, named=True)
    assert bob["nps"] == pytest.approx(-50.0)
    assert out.row(2, named=True)["employee"] is None
    with pytest.raises(ValidationFailed, match=r"missing column\(s\) 'segment'; the table has 'employee', 'score'"):
        nps_by(frame, "segment")


def test_nps_trend_direction_and_change() -> None:
    rows = []
    for month, promoters in ((1, 20), (2, 40), (3, 60), (4, 80)):
        rows += [(date(2026, month, 5), 10)] * promoters + [(date(2026, month, 20), 2)] * (100 - promoters)
    frame = pl.DataFrame(rows, schema={"answered": pl.Date, "score": pl.Int64}, orient="row")
    trend = nps_trend(frame, "answered")
    assert trend.periods["period"].to_list() == [date(2026, m, 1) for m in (1, 2, 3, 4)]
    assert trend.periods["nps"].to_list() == pytest.approx([-60, -20, 20, 60])
    assert trend.direction == "up" and trend.slope == pytest.approx(40, abs=2) and trend.slope_low > 0
    assert trend.change == pytest.approx(40) and trend.change_low > 0
    flat = nps_trend(frame.filter(pl.col("answered").dt.month() == 1), "answered")
    assert flat.direction == "unknown" and flat.slope is None
    with pytest.raises(ValidationFailed, match="must hold dates or datetimes"):
        nps_trend(frame.with_columns(pl.col("answered").cast(pl.String)), "answered")


def test_wilson_matches_newcombe_1998() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I: 81/263 -> 0.2553 to 0.3662; 15/148 ->
    # 0.0624 to 0.1605; 0/20 -> 0 to 0.1611.
    assert wilson_interval(81, 263) == (pytest.approx(0.2553, abs=1e-4), pytest.approx(0.3662, abs=1e-4))
    assert wilson_interval(15, 148) == (pytest.approx(0.0624, abs=1e-4), pytest.approx(0.1605, abs=1e-4))
    assert wilson_interval(0, 20) == (0.0, pytest.approx(0.1611, abs=1e-4))


def test_response_rate_by_segment() -> None:
    frame = pl.DataFrame({"segment": ["Loyal"] * 263 + ["Lost"] * 20,
                          "responded": [True] * 81 + [False] * 182 + [False] * 19 + [None]})
    out = response_rate_by(frame, "segment")
    lost, loyal = out.row(0, named=True), out.row(1, named=True)
    assert (loyal["invited"], loyal["responded"]) == (263, 81)
    assert loyal["rate"] == pytest.approx(81 / 263) and loyal["low"] == pytest.approx(0.2553, abs=1e-4)
    assert (lost["invited"], lost["responded"], lost["rate"]) == (20, 0, 0.0)
    with pytest.raises(ValidationFailed, match="must be true/false"):
        response_rate_by(frame.with_columns(pl.col("responded").cast(pl.Int8)), "segment")
