"""Net Promoter Score with its uncertainty, by group and over time, and survey response rates.

NPS (Reichheld 2003, "The One Number You Need to Grow", Harvard Business Review 81(12)) from answers on
the 0-10 "how likely are you to recommend us" scale: promoters answer 9-10, passives 7-8, detractors 0-6,
and ``NPS = 100 * (p_P - p_D)`` in -100..100.

Uncertainty. Each answer is one draw of a three-category multinomial, and the score is the mean of a
variable that is +1 (promoter), 0 (passive) or -1 (detractor), so ``Var = (p_P + p_D - (p_P - p_D)^2) / n``
and ``se = 100 * sqrt(Var)`` (Rocks 2016, "Interval Estimation for the 'Net Promoter Score'", The
American Statistician 70(4):365-372). The plain Wald interval ``NPS +- 1.96 se`` collapses to a single
point when every answer falls in one category (10 promoters out of 10: "100 +- 0"), and covers too
seldom for small n. The default interval is therefore the *adjusted Wald* interval that Rocks found to
keep its coverage down to small samples, as popularised by Sauro (MeasuringU 2021, "Confidence Intervals
for Net Promoter Scores"): add 3 pseudo-answers before computing the interval, 0.75 promoter, 0.75
detractor and 1.5 passive, i.e. ``n' = n + 3``, ``p'_P = (P + 0.75) / n'``, ``p'_D = (D + 0.75) / n'``, and
``(p'_P - p'_D) +- 1.96 * sqrt((p'_P + p'_D - (p'_P - p'_D)^2) / n')``. It differs from Wald by little
once n is a few dozen. Intervals are clipped to [-100, 100]; the reported point estimate is always the
plain NPS. ``interval="wald"`` gives the textbook interval.

Trend. :func:`nps_trend` fits a straight line to the per-period NPS by weighted least squares (weights
``1 / se^2`` from the adjusted variance, so a period with 5 answers counts less than one with 500) and
reports the slope per period with its 95% interval; the direction is "up" or "down" only when that
interval excludes 0. It also reports the change from the previous period to the last with the interval
of a difference of two independent estimates (``se = sqrt(se_1^2 + se_2^2)``).

Response rates use Wilson's score interval (Wilson 1927, JASA 22(158); recommended over Wald by Newcombe
1998, "Two-sided confidence intervals for the single proportion", Statistics in Medicine 17(8)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import polars as pl

from ravingfans.errors import ValidationFailed

Z95 = 1.959963984540054
Interval = Literal["adjusted", "wald"]
Period = Literal["day", "week", "month", "quarter", "year"]
_TRUNCATE = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}

NPS_COLUMNS = ("n", "promoters", "passives", "detractors", "nps", "se", "low", "high")


@dataclass(frozen=True)
class NpsResult:
    """NPS of a set of answers: counts, the score (-100..100), its standard error and 95% interval."""

    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    se: float | None
    low: float | None
    high: float | None
    interval: str = "adjusted"


@dataclass(frozen=True)
class NpsTrend:
    """NPS per period, the fitted slope (points per period) with its interval, and last-vs-previous change."""

    periods: pl.DataFrame
    slope: float | None
    slope_low: float | None
    slope_high: float | None
    direction: Literal["up", "down", "flat", "unknown"]
    change: float | None
    change_low: float | None
    change_high: float | None


def _check_interval(interval: str) -> None:
    if interval not in ("adjusted", "wald"):
        raise ValidationFailed(f"interval must be 'adjusted' or 'wald', not {interval!r}", field="interval")


def nps_from_counts(promoters: int, passives: int, detractors: int, *, interval: Interval = "adjusted") -> NpsResult:
    """NPS, standard error and 95% interval from the three counts (module doc); empty -> all None."""
    _check_interval(interval)
    for name, value in (("promoters", promoters), ("passives", passives), ("detractors", detractors)):
        if value < 0:
            raise ValidationFailed(f"{name} must be 0 or more, not {value}", field=name)
    n = promoters + passives + detractors
    if n == 0:
        return NpsResult(0, 0, 0, 0, None, None, None, None, interval)
    p, d = promoters / n, detractors / n
    se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    if interval == "wald":
        centre, half = 100 * (p - d), Z95 * se
    else:
        n_adj = n + 3
        pa, da = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
        centre, half = 100 * (pa - da), 100 * Z95 * math.sqrt((pa + da - (pa - da) ** 2) / n_adj)
    return NpsResult(n, promoters, passives, detractors, 100 * (p - d), se,
                     max(-100.0, centre - half), min(100.0, centre + half), interval)


def nps(scores: Sequence[float | int | None] | np.ndarray | pl.Series, *, interval: Interval = "adjusted") -> NpsResult:
    """NPS of 0-10 answers; missing answers (None/NaN) are left out, anything outside 0..10 is an error."""
    values = np.asarray(pl.Series(values=scores, dtype=pl.Float64, strict=False).drop_nulls().drop_nans().to_numpy())
    bad = values[(values < 0) | (values > 10) | (values != np.round(values))]
    if len(bad):
        raise ValidationFailed(
            f"NPS answers must be whole numbers from 0 to 10; found {bad[0]:g} ({len(bad)} such answers)",
            field="score",
        )
    return nps_from_counts(int((values >= 9).sum()), int(((values >= 7) & (values <= 8)).sum()),
                           int((values <= 6).sum()), interval=interval)


def _score_column(frame: pl.DataFrame, score_col: str, needed: Sequence[str]) -> pl.DataFrame:
    """The frame with ``score_col`` as Float64, after checking the columns and the 0-10 range."""
    missing = [c for c in (score_col, *needed) if c not in frame.columns]
    if missing:
        raise ValidationFailed(
            f"missing column(s) {', '.join(map(repr, missing))}; the table has {', '.join(map(repr, frame.columns))}",
            field=missing[0],
        )
    out = frame.with_columns(pl.col(score_col).cast(pl.Float64, strict=False).fill_nan(None))
    bad = out.filter(pl.col(score_col).is_not_null() & ((pl.col(score_col) < 0) | (pl.col(score_col) > 10)
                                                        | (pl.col(score_col) != pl.col(score_col).round(0))))
    if bad.height:
        raise ValidationFailed(
            f"column {score_col!r} must hold whole numbers from 0 to 10; found {bad[score_col][0]:g} "
            f"({bad.height} such rows)", field=score_col)
    return out


def _counts_to_nps(counts: pl.DataFrame, interval: Interval) -> pl.DataFrame:
    """Append n, nps, se, low, high to a table of promoters/passives/detractors counts."""
    rows = [nps_from_counts(p, q, d, interval=interval)
            for p, q, d in zip(counts["promoters"], counts["passives"], counts["detractors"], strict=True)]
    return counts.with_columns(
        pl.Series("n", [r.n for r in rows], dtype=pl.Int64),
        pl.Series("nps", [r.nps for r in rows], dtype=pl.Float64),
        pl.Series("se", [r.se for r in rows], dtype=pl.Float64),
        pl.Series("low", [r.low for r in rows], dtype=pl.Float64),
        pl.Series("high", [r.high for r in rows], dtype=pl.Float64),
    )


def _grouped_counts(frame: pl.DataFrame, keys: list[str], score_col: str) -> pl.DataFrame:
    s = pl.col(score_col)
    return (
        frame.filter(s.is_not_null())
        .group_by(keys)
        .agg((s >= 9).sum().cast(pl.Int64).alias("promoters"),
             ((s >= 7) & (s <= 8)).sum().cast(pl.Int64).alias("passives"),
             (s <= 6).sum().cast(pl.Int64).alias("detractors"))
        .sort(keys, nulls_last=True)
    )


def nps_by(frame: pl.DataFrame, group_col: str, score_col: str = "score", *,
           interval: Interval = "adjusted") -> pl.DataFrame:
    """One row per value of ``group_col`` (a segment, an employee, a period) with ``NPS_COLUMNS``."""
    _check_interval(interval)
    frame = _score_column(frame, score_col, [group_col])
    counts = _grouped_counts(frame, [group_col], score_col)
    return _counts_to_nps(counts, interval).select(group_col, *NPS_COLUMNS)


def nps_trend(frame: pl.DataFrame, time_col: str, period: Period = "month", *, score_col: str = "score",
              interval: Interval = "adjusted") -> NpsTrend:
    """NPS per calendar period of ``time_col`` (a date or datetime column) and its trend (module doc)."""
    _check_interval(interval)
    if period not in _TRUNCATE:
        raise ValidationFailed(f"period must be one of {', '.join(_TRUNCATE)}, not {period!r}", field="period")
    frame = _score_column(frame, score_col, [time_col])
    dtype = frame.schema[time_col]
    if not (dtype == pl.Date or isinstance(dtype, pl.Datetime)):
        raise ValidationFailed(f"column {time_col!r} must hold dates or datetimes, not {dtype}", field=time_col)
    bucketed = frame.with_columns(pl.col(time_col).dt.truncate(_TRUNCATE[period]).cast(pl.Date).alias("period"))
    periods = _counts_to_nps(_grouped_counts(bucketed.filter(pl.col("period").is_not_null()), ["period"], score_col),
                             interval).select("period", *NPS_COLUMNS)
    index = _period_index(periods["period"].to_list(), period)
    periods = periods.with_columns(pl.Series("period_index", index, dtype=pl.Int64))
    slope = slope_low = slope_high = change = change_low = change_high = None
    direction: Literal["up", "down", "flat", "unknown"] = "unknown"
    if periods.height >= 2:
        variances = np.array([_adjusted_var(p, d, n) for p, d, n in
                              zip(periods["promoters"], periods["detractors"], periods["n"], strict=True)])
        x = np.asarray(index, dtype=float)
        y = periods["nps"].to_numpy()
        w = 1.0 / variances
        xm = np.sum(w * x) / np.sum(w)
        sxx = np.sum(w * (x - xm) ** 2)
        if sxx > 0:
            slope = float(np.sum(w * (x - xm) * (y - np.sum(w * y) / np.sum(w))) / sxx)
            half = Z95 * math.sqrt(1.0 / sxx)
            slope_low, slope_high = slope - half, slope + half
            direction = "up" if slope_low > 0 else "down" if slope_high < 0 else "flat"
        last, prev = periods.row(-1, named=True), periods.row(-2, named=True)
        change = last["nps"] - prev["nps"]
        half = Z95 * math.sqrt(_adjusted_var(last["promoters"], last["detractors"], last["n"])
                               + _adjusted_var(prev["promoters"], prev["detractors"], prev["n"]))
        change_low, change_high = change - half, change + half
    return NpsTrend(periods, slope, slope_low, slope_high, direction, change, change_low, change_high)


def _adjusted_var(promoters: int, detractors: int, n: int) -> float:
    """Variance (in points^2) of an NPS with the adjusted-Wald pseudo-answers, so it is never 0."""
    n_adj = n + 3
    p, d = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
    return 1e4 * (p + d - (p - d) ** 2) / n_adj


def _period_index(starts: list[date], period: str) -> list[int]:
    """Consecutive integers for calendar periods (gaps kept), so a slope is 'per period'."""
    if not starts:
        return []
    first = starts[0]
    out = []
    for d in starts:
        if period == "day":
            out.append((d - first).days)
        elif period == "week":
            out.append((d - first).days // 7)
        else:
            months = (d.year - first.year) * 12 + d.month - first.month
            out.append(months // {"month": 1, "quarter": 3, "year": 12}[period])
    return out


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (module doc); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def response_rate_by(invited_frame: pl.DataFrame, group_col: str, *, responded_col: str = "responded") -> pl.DataFrame:
    """Per group: ``invited``, ``responded``, ``rate`` and its Wilson 95% interval ``low``/``high``.

    ``invited_frame`` has one row per invitation and a boolean ``responded_col`` (null counts as no).
    """
    missing = [c for c in (group_col, responded_col) if c not in invited_frame.columns]
    if missing:
        raise ValidationFailed(
            f"missing column(s) {', '.join(map(repr, missing))}; the table has "
            f"{', '.join(map(repr, invited_frame.columns))}", field=missing[0])
    if invited_frame.schema[responded_col] != pl.Boolean:
        raise ValidationFailed(f"column {responded_col!r} must be true/false, not {invited_frame.schema[responded_col]}",
                               field=responded_col)
    counts = (
        invited_frame.group_by(group_col)
        .agg(pl.len().cast(pl.Int64).alias("invited"), pl.col(responded_col).fill_null(False).sum().cast(pl.Int64)
             .alias("responded"))
        .sort(group_col, nulls_last=True)
    )
    bounds = [wilson_interval(r, n) for r, n in zip(counts["responded"], counts["invited"], strict=True)]
    return counts.with_columns(
        (pl.col("responded") / pl.col("invited")).alias("rate"),
        pl.Series("low", [b[0] for b in bounds], dtype=pl.Float64),
        pl.Series("high", [b[1] for b in bounds], dtype=pl.Float64),
    )


__all__ = ["NPS_COLUMNS", "NpsResult", "NpsTrend", "nps", "nps_by", "nps_from_counts", "nps_trend",
           "response_rate_by", "wilson_interval"]
