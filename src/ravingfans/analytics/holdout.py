"""Calibration/holdout check of the purchase model: fit on the earlier history, forecast the rest, compare.

The classic validation of Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative
to the Pareto/NBD Model", Marketing Science 24(2), 275-284, section 4: the model is fitted on a calibration
period (here everything up to ``calibration_end``), each calibration customer's repeat purchases in the
following holdout period ``(calibration_end, observation_end]`` are forecast with the conditional
expectation E[Y(t) | x, t_x, T] (their eq. 10), and the forecasts are set against what the customers did:
in total, by number of calibration repeat purchases (their figure 4) and, as is common practice, by decile
of the forecast. Spend is forecast with Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: Using
Iso-Value Curves for Customer Base Analysis", JMR 42(4)) when it can be fitted.

A holdout purchase is counted exactly like a calibration one, by
:func:`ravingfans.analytics.summary.customer_summary` run on the holdout rows: one occasion per customer
and calendar day in the shop's time zone with a positive net amount.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from ravingfans.analytics.btyd import BgNbdFit, GammaGammaFit, NotEnoughData, ParetoNbdFit, bgnbd, gammagamma, paretonbd
from ravingfans.analytics.btyd.fitting import DAYS_PER_MONTH
from ravingfans.analytics.summary import (
    TimeUnit,
    _as_lazy,
    _day_expr,
    _unit_days,
    compress,
    customer_summary,
    require_columns,
)
from ravingfans.errors import ValidationFailed

Model = Literal["bgnbd", "paretonbd"]

DAYS_PER_YEAR = 365.25
"""A year in a holdout length such as "1y": the mean Gregorian year."""

_UNIT_DAYS = {"d": 1.0, "w": 7.0, "m": DAYS_PER_MONTH, "y": DAYS_PER_YEAR}
_LENGTH = re.compile(r"^\s*(\d{1,6})\s*([a-z]+)\s*$", re.IGNORECASE)
_ALIASES = {"d": "d", "day": "d", "days": "d", "w": "w", "wk": "w", "week": "w", "weeks": "w",
            "m": "m", "mo": "m", "month": "m", "months": "m", "y": "y", "yr": "y", "year": "y", "years": "y"}
FREQUENCY_GROUPS = 7
"""Calibration repeat purchases 0, 1, ..., 6 get a group each and 7 or more share one, as in FHL (2005) fig. 4."""


def parse_holdout(text: str) -> timedelta:
    """A holdout length such as "26w", "180d", "6m" or "1y" as whole days.

    A month is 365.25 / 12 = 30.4375 days and a year 365.25 days (the mean Gregorian ones, as in the CLV
    sum), and the result is rounded to whole days because purchase occasions are calendar days: "6m" is
    183 days, "1m" 30, "12m" 365, "1y" 365. Units may be spelled out ("26 weeks"); the number must be a
    whole number of at least 1.
    """
    match = _LENGTH.match(text) if isinstance(text, str) else None
    unit = _ALIASES.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValidationFailed(
            f"holdout {text!r} is not a length of time: write a whole number followed by d (days), w (weeks), "
            "m (months) or y (years), such as 26w, 180d, 6m or 1y", field="holdout")
    n = int(match.group(1))
    days = round(n * _UNIT_DAYS[unit])
    if days < 1:
        raise ValidationFailed(f"holdout {text!r} is empty; it must be at least one day", field="holdout")
    return timedelta(days=days)


@dataclass(frozen=True)
class HoldoutResult:
    """Forecast against outcome for the holdout period, per customer, in total, by decile and by frequency."""

    customers: pl.DataFrame
    """One row per calibration customer: customer id, frequency_cal, recency_cal, T_cal, predicted, actual
    (repeat purchase occasions in the holdout) and, when the spend model could be fitted,
    predicted_spend and actual_spend (net spend in the holdout)."""
    deciles: pl.DataFrame
    """Decile 1 holds the tenth of customers with the highest forecast, 10 the lowest: customers,
    predicted_mean, predicted_total, actual_mean, actual_total."""
    by_frequency: pl.DataFrame
    """The same comparison grouped by calibration repeat purchases (0 ... 6, "7+"): FHL (2005) figure 4."""
    calibration_end: date
    observation_end: date
    holdout_days: int
    time_unit_days: float
    model: Model
    purchase_fit: BgNbdFit | ParetoNbdFit
    spend_fit: GammaGammaFit | None
    spend_note: str | None
    """Why there is no spend forecast, when there is none."""
    new_customers: int
    """Customers whose first purchase falls in the holdout: not forecast (the model conditions on a history)."""

    @property
    def predicted_purchases(self) -> float:
        """Forecast repeat purchases of all calibration customers in the holdout."""
        return float(self.customers.get_column("predicted").sum())

    @property
    def actual_purchases(self) -> int:
        """Purchase occasions the calibration customers actually made in the holdout."""
        return int(self.customers.get_column("actual").sum())

    @property
    def relative_error(self) -> float | None:
        """(predicted - actual) / actual for the total; None when nobody bought in the holdout."""
        return _relative(self.predicted_purchases, self.actual_purchases)

    @property
    def predicted_spend(self) -> float | None:
        """Forecast net spend of the calibration customers in the holdout (None without a spend model)."""
        return float(self.customers.get_column("predicted_spend").sum()) if self.spend_fit else None

    @property
    def actual_spend(self) -> float | None:
        """Net spend of the calibration customers' holdout occasions (None without a spend model)."""
        return float(self.customers.get_column("actual_spend").sum()) if self.spend_fit else None

    @property
    def spend_relative_error(self) -> float | None:
        """(predicted - actual) / actual spend; None without a spend model or holdout spend."""
        if self.predicted_spend is None or self.actual_spend is None:
            return None
        return _relative(self.predicted_spend, self.actual_spend)

    def as_dict(self) -> dict[str, Any]:
        """Everything but the per-customer table as plain JSON-ready values (dates ISO 8601)."""
        fit = self.purchase_fit
        names = ("r", "alpha", "a", "b") if isinstance(fit, BgNbdFit) else ("r", "alpha", "s", "beta")
        params = {n: {"value": getattr(fit, n), "se": _finite(getattr(fit, f"{n}_se"))} for n in names}
        spend = None
        if self.spend_fit is not None:
            g = self.spend_fit
            spend = {n: {"value": getattr(g, n), "se": _finite(getattr(g, f"{n}_se"))} for n in ("p", "q", "gamma")}
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "observation_end": self.observation_end.isoformat(),
            "holdout_days": self.holdout_days,
            "model": self.model,
            "customers": self.customers.height,
            "new_customers": self.new_customers,
            "purchases": {"predicted": self.predicted_purchases, "actual": self.actual_purchases,
                          "relative_error": self.relative_error},
            "spend": None if self.spend_fit is None else {
                "predicted": self.predicted_spend, "actual": self.actual_spend,
                "relative_error": self.spend_relative_error},
            "spend_note": self.spend_note,
            "parameters": {"purchases": params, "spend": spend,
                           "log_likelihood": fit.log_likelihood, "converged": fit.converged},
            "deciles": self.deciles.to_dicts(),
            "by_frequency": self.by_frequency.to_dicts(),
        }


def holdout_check(
    transactions: pl.DataFrame | pl.LazyFrame | pa.Table,
    *,
    calibration_end: date | None = None,
    observation_end: date | None = None,
    holdout: str | timedelta | None = None,
    customer_id_col: str = "customer_id",
    datetime_col: str = "timestamp",
    monetary_value_col: str | None = "amount",
    order_id_col: str | None = None,
    timezone_name: str = "UTC",
    time_unit: TimeUnit = "D",
    model: Model = "bgnbd",
) -> HoldoutResult:
    """Fit on the history up to ``calibration_end``, forecast ``(calibration_end, observation_end]``, compare.

    Give ``calibration_end`` or ``holdout`` (a length like "26w", see :func:`parse_holdout`, or a
    timedelta of whole days), not both. ``observation_end`` defaults to the last day with a transaction
    (days in ``timezone_name``; both ends are whole calendar days, inclusive). Customers first seen after
    the calibration end, or on its very day (T = 0, nothing to condition on), are not forecast; the first
    are counted in ``new_customers``. With ``order_id_col``, a refund in the holdout of an order placed
    earlier is no holdout purchase (it stands alone and nets below zero). A holdout reaching back before
    the first transaction, or a calibration period without customers, raises :class:`ValidationFailed`;
    too few repeat buyers to fit raise :class:`NotEnoughData` (the spend model's failure only drops the
    spend forecast, with the reason in ``spend_note``).
    """
    if model not in ("bgnbd", "paretonbd"):
        raise ValidationFailed(f"model must be 'bgnbd' or 'paretonbd', not {model!r}", field="model")
    unit_days = _unit_days(time_unit)
    lf, _ = _as_lazy(transactions)
    cid, ts = customer_id_col, datetime_col
    schema = lf.collect_schema()
    require_columns(schema, [cid, ts] + [c for c in (monetary_value_col, order_id_col) if c], table="transactions")
    ts_dtype = schema[ts]
    if not isinstance(ts_dtype, (pl.Datetime, pl.Date)):
        raise ValidationFailed(f"column {ts!r} must hold dates or datetimes, not {ts_dtype}", field=ts)

    day = _day_expr(pl.col(ts), ts_dtype, timezone_name)  # the summary's own calendar day
    rows = lf.filter(pl.col(cid).is_not_null() & pl.col(ts).is_not_null())
    first_day, last_day = rows.select(day.min().alias("first"), day.max().alias("last")).collect().row(0)
    if first_day is None:
        raise ValidationFailed("the transactions table holds no sale with a customer", field=cid)
    cal_end, obs_end = _period(first_day, last_day, calibration_end, observation_end, holdout)
    length = (obs_end - cal_end).days / unit_days

    summary_args: dict[str, Any] = dict(customer_id_col=cid, datetime_col=ts, monetary_value_col=monetary_value_col,
                                        time_unit=time_unit, order_id_col=order_id_col, timezone_name=timezone_name)
    cal = customer_summary(rows, observation_end=cal_end, **summary_args).collect()
    cal = cal.filter(pl.col("T") > 0)
    if cal.height == 0:
        raise ValidationFailed(
            f"no customer bought before the calibration end {cal_end.isoformat()}, so there is nothing to "
            "calibrate on", field="holdout", hint="Use a shorter holdout.")
    fit = (bgnbd if model == "bgnbd" else paretonbd).fit(compress(cal))  # NotEnoughData propagates

    held = rows.filter((day > cal_end) & (day <= obs_end))
    hold = customer_summary(held, observation_end=obs_end, **summary_args).collect()
    new_customers = hold.join(cal.select(cid), on=cid, how="anti").height
    spend_cols = [pl.col("total_spend").alias("actual_spend")] if monetary_value_col else []
    mean_spend = ["monetary_value"] if monetary_value_col else []
    out = (
        cal.select(cid, pl.col("frequency").alias("frequency_cal"), pl.col("recency").alias("recency_cal"),
                   pl.col("T").alias("T_cal"), *mean_spend)
        .join(hold.select(cid, pl.col("purchases").alias("actual"), *spend_cols), on=cid, how="left")
        .with_columns(pl.col("actual").fill_null(0))
    )
    x, t_x, age = (out.get_column(c).to_numpy() for c in ("frequency_cal", "recency_cal", "T_cal"))
    predicted = fit.conditional_expected_purchases(length, x, t_x, age)
    out = out.with_columns(pl.Series("predicted", predicted, dtype=pl.Float64))

    spend_fit, spend_note = _spend_model(cal, monetary_value_col)
    if spend_fit is not None:
        per_purchase = spend_fit.conditional_expected_average_spend(x, out.get_column("monetary_value").to_numpy())
        out = out.with_columns(pl.Series("predicted_spend", predicted * per_purchase, dtype=pl.Float64),
                               pl.col("actual_spend").fill_null(0.0).cast(pl.Float64))
    spend = ["predicted_spend", "actual_spend"] if spend_fit is not None else []
    out = out.select(cid, "frequency_cal", "recency_cal", "T_cal", "predicted", "actual", *spend)
    return HoldoutResult(
        customers=out, deciles=decile_table(out), by_frequency=frequency_table(out), calibration_end=cal_end,
        observation_end=obs_end, holdout_days=(obs_end - cal_end).days, time_unit_days=unit_days, model=model,
        purchase_fit=fit, spend_fit=spend_fit, spend_note=spend_note, new_customers=new_customers,
    )


def decile_table(customers: pl.DataFrame, *, predicted_col: str = "predicted", actual_col: str = "actual",
                 groups: int = 10) -> pl.DataFrame:
    """Customers ranked by forecast (highest first, ties by table order) cut into ``groups`` near-equal groups."""
    n = customers.height
    ranked = customers.with_row_index("_pos").sort([predicted_col, "_pos"], descending=[True, False])
    ranked = ranked.with_columns(
        (pl.int_range(0, n, dtype=pl.Int64) * groups // max(n, 1) + 1).alias("decile"))
    return _compare(ranked, "decile", predicted_col, actual_col)


def frequency_table(customers: pl.DataFrame, *, frequency_col: str = "frequency_cal",
                    predicted_col: str = "predicted", actual_col: str = "actual") -> pl.DataFrame:
    """Forecast against outcome by calibration repeat purchases, 0 ... 6 and "7+" (FHL 2005, figure 4)."""
    top = FREQUENCY_GROUPS
    grouped = customers.with_columns(
        pl.when(pl.col(frequency_col) >= top).then(pl.lit(f"{top}+"))
        .otherwise(pl.col(frequency_col).cast(pl.Int64).cast(pl.String)).alias("frequency_cal"),
        pl.col(frequency_col).clip(upper_bound=top).alias("_order"),
    )
    return _compare(grouped, "frequency_cal", predicted_col, actual_col, order="_order")


def _compare(frame: pl.DataFrame, key: str, predicted_col: str, actual_col: str,
             order: str | None = None) -> pl.DataFrame:
    """Per group: customers, mean and total forecast, mean and total actual."""
    sort_by = order or key
    return (
        frame.group_by(key)
        .agg(pl.col(sort_by).first().alias("_sort"), pl.len().cast(pl.Int64).alias("customers"),
             pl.col(predicted_col).mean().alias("predicted_mean"), pl.col(predicted_col).sum().alias("predicted_total"),
             pl.col(actual_col).cast(pl.Float64).mean().alias("actual_mean"),
             pl.col(actual_col).cast(pl.Int64).sum().alias("actual_total"))
        .sort("_sort")
        .drop("_sort")
    )


def _period(first_day: date, last_day: date, calibration_end: date | None, observation_end: date | None,
            holdout: str | timedelta | None) -> tuple[date, date]:
    """The calibration end and observation end as days, checked against the history."""
    for name, value in (("calibration_end", calibration_end), ("observation_end", observation_end)):
        if isinstance(value, datetime) or (value is not None and not isinstance(value, date)):
            raise ValidationFailed(f"{name} must be a date (whole days), not {type(value).__name__}", field=name)
    obs_end = observation_end or last_day
    if obs_end <= first_day:
        raise ValidationFailed(f"the observation end {obs_end.isoformat()} must come after the first purchase "
                               f"({first_day.isoformat()})", field="observation_end")
    if (calibration_end is None) == (holdout is None):
        raise ValidationFailed("give either a calibration end or a holdout length, not both or neither",
                               field="holdout")
    if holdout is not None:
        length = parse_holdout(holdout) if isinstance(holdout, str) else holdout
        if not isinstance(length, timedelta) or length.days < 1 or length != timedelta(days=length.days):
            raise ValidationFailed(f"holdout must be a whole number of days, at least one, not {holdout!r}",
                                   field="holdout")
        try:
            cal_end = obs_end - length
        except OverflowError:
            cal_end = date.min
    else:
        assert calibration_end is not None
        cal_end = calibration_end
    if cal_end >= obs_end:
        raise ValidationFailed(
            f"the calibration end {cal_end.isoformat()} must come before the observation end {obs_end.isoformat()}",
            field="calibration_end")
    if cal_end <= first_day:
        history = (obs_end - first_day).days
        raise ValidationFailed(
            f"the holdout ({(obs_end - cal_end).days} days up to {obs_end.isoformat()}) is longer than the history: "
            f"the first purchase was on {first_day.isoformat()}, {history} day(s) before, so nothing is left "
            "to calibrate on", field="holdout",
            hint="Use a shorter holdout; one third of the history or less leaves enough to fit on.")
    return cal_end, obs_end


def _spend_model(cal: pl.DataFrame, monetary_value_col: str | None) -> tuple[GammaGammaFit | None, str | None]:
    """Gamma-Gamma on the calibration repeat buyers, or None with the reason in words."""
    if not monetary_value_col:
        return None, "no amounts were given, so spend is not forecast"
    try:
        g = gammagamma.fit(cal.select("frequency", "monetary_value"))
        if g.q <= 1:
            return None, (f"the spend model's q = {g.q:.3g} is 1 or less, so average spend has no finite "
                          "expectation; spend is not forecast")
    except NotEnoughData as exc:
        return None, exc.message
    return g, None


def _relative(predicted: float, actual: float) -> float | None:
    """(predicted - actual) / actual, or None when actual is 0."""
    return (predicted - actual) / actual if actual else None


def _finite(value: float) -> float | None:
    """A float for JSON: NaN (an unknown standard error) becomes None."""
    return value if math.isfinite(value) else None


__all__ = ["FREQUENCY_GROUPS", "HoldoutResult", "decile_table", "frequency_table", "holdout_check", "parse_holdout"]
