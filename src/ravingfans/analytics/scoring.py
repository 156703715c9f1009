"""Score every customer: RFM segment, P(alive), expected purchases and spend, and lifetime value.

One pure function over the customer summary (:func:`ravingfans.analytics.summary.customer_summary`, in
days unless ``time_unit_days`` says otherwise): RFM scores and segments, a BG/NBD fit on the compressed
(frequency, recency, T) table, a Gamma-Gamma fit on repeat buyers' spend, and per customer P(alive),
purchases expected over the horizon, expected spend per purchase and CLV (Fader, Hardie & Lee 2005, Marketing Science 24(2) and JMR 42(4)).

Small businesses: with too few repeat buyers the models say more about noise than about customers, so no
model is fitted, ``p_alive``, ``expected_purchases`` and ``clv`` stay empty, and ``fallback_reason`` says
why in words; the segments and the rhythm columns still work. When only the spend model cannot be
fitted, expected spend falls back to the customer's own mean spend per purchase (said in ``notes``).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ravingfans.analytics.btyd.fitting import DAYS_PER_MONTH, MIN_REPEAT_BUYERS, NotEnoughData
from ravingfans.analytics.rfm import DEFAULT_SEGMENTS, SegmentRule, rfm_scores, rfm_segments
from ravingfans.analytics.summary import require_columns
from ravingfans.errors import ValidationFailed

if TYPE_CHECKING:
    from ravingfans.analytics.btyd.bgnbd import BgNbdFit
    from ravingfans.analytics.btyd.gammagamma import GammaGammaFit, IndependenceCheck

MODEL_MODULES = ("ravingfans.analytics.btyd.bgnbd", "ravingfans.analytics.btyd.gammagamma")
"""The models :func:`score_customers` fits. They load SciPy's special functions (0.2-0.3 s), so this module
imports them only when scoring starts; ``analyze`` loads them meanwhile on a second thread."""

SCORE_COLUMNS = ("R", "F", "M", "FM", "segment", "p_alive", "expected_purchases", "expected_spend", "clv",
                 "days_since_last")
"""Columns :func:`score_customers` adds to the summary."""

_NEW_CUSTOMER_AGE = 1e-6  # units; stands in for T = 0, where the model's formulas take their limit

FAN_SEGMENTS = ("Champions", "Loyal")
"""The segments listed as raving fans: buy often, spend well, and recently."""


@dataclass(frozen=True)
class ScoringOptions:
    """How far ahead to look and how to value it."""

    horizon_days: float = 365.0
    margin: float = 1.0
    monthly_discount_rate: float = 0.01
    segment_map: Sequence[SegmentRule] = DEFAULT_SEGMENTS
    min_repeat_buyers: int = MIN_REPEAT_BUYERS
    time_unit_days: float = 1.0  # the unit the summary's recency and T are in (7.0 for weeks)

    def check(self) -> None:
        """Refuse values that make the figures meaningless, naming the option."""
        if not (self.horizon_days > 0 and np.isfinite(self.horizon_days)):
            raise ValidationFailed(f"horizon_days must be more than 0, not {self.horizon_days}", field="horizon_days")
        if not (0 < self.margin <= 1):
            raise ValidationFailed(f"margin must be a share between 0 and 1 (e.g. 0.4 for 40%), not {self.margin}",
                                   field="margin")
        if not (0 <= self.monthly_discount_rate < 1):
            raise ValidationFailed("monthly_discount_rate must be between 0 and 1 (e.g. 0.01 for 1% a month), "
                                   f"not {self.monthly_discount_rate}", field="monthly_discount_rate")
        if not self.time_unit_days > 0:
            raise ValidationFailed(f"time_unit_days must be more than 0, not {self.time_unit_days}",
                                   field="time_unit_days")


@dataclass(frozen=True)
class Scoring:
    """Every customer's scores, and the fits (or the reason there are none) behind them."""

    table: pl.DataFrame
    options: ScoringOptions
    bgnbd: BgNbdFit | None
    gammagamma: GammaGammaFit | None
    independence: IndependenceCheck | None
    fallback_reason: str | None
    notes: list[str] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        """The fitted parameters with standard errors and log-likelihoods, named as in the papers.

        Strict-JSON ready: an undefined standard error (NaN) is None.
        """
        out: dict[str, Any] = {"horizon_days": self.options.horizon_days, "margin": self.options.margin,
                               "monthly_discount_rate": self.options.monthly_discount_rate,
                               "n_customers": self.table.height, "fallback_reason": self.fallback_reason,
                               "notes": list(self.notes)}
        if self.bgnbd is not None:
            f = self.bgnbd
            out["bgnbd"] = {"r": f.r, "alpha": f.alpha, "a": f.a, "b": f.b,
                            "stderr": {"r": f.r_se, "alpha": f.alpha_se, "a": f.a_se, "b": f.b_se},
                            "log_likelihood": f.log_likelihood, "n_customers": f.n_customers,
                            "converged": f.converged}
        if self.gammagamma is not None:
            g = self.gammagamma
            out["gammagamma"] = {"p": g.p, "q": g.q, "gamma": g.gamma,
                                 "stderr": {"p": g.p_se, "q": g.q_se, "gamma": g.gamma_se},
                                 "log_likelihood": g.log_likelihood, "n_customers": g.n_customers,
                                 "converged": g.converged}
        if self.independence is not None:
            i = self.independence
            out["independence_check"] = {"correlation": i.correlation, "n_repeat_buyers": i.n_repeat_buyers,
                                         "ok": i.ok, "verdict": i.verdict}
        return _finite(out)


def _finite(value: Any) -> Any:
    """The same structure with NaN and infinities as None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def score_customers(summary: pl.DataFrame, options: ScoringOptions | None = None, *,
                    customer_id_col: str = "customer_id") -> Scoring:
    """RFM segment, P(alive), expected purchases and spend, and CLV for every customer of a summary."""
    opts = options or ScoringOptions()
    opts.check()
    if isinstance(summary, pl.LazyFrame):
        summary = summary.collect()
    require_columns(summary.collect_schema(), [customer_id_col, "last_purchase", "frequency", "recency", "T",
                                               "monetary_value", "total_spend", "purchases"], table="summary")
    notes: list[str] = []
    for name in MODEL_MODULES:  # here, before the worker thread starts: never two threads importing at once
        importlib.import_module(name)
    # The spend model and the RFM segments need nothing from the purchase model: they run on the second
    # core meanwhile (NumPy and SciPy's special functions release the GIL in their loops, Polars works in
    # its own threads), from before the distinct histories are sorted out.
    with ThreadPoolExecutor(max_workers=2) as pool:
        spend_job = pool.submit(_fit_spend, summary, opts, notes)
        rfm_job = pool.submit(_segments, summary, opts, customer_id_col)
        # Customers sharing (frequency, recency, T) share every purchase figure: fit and evaluate once per row.
        histories, history_of = _distinct_histories(summary)
        purchase_fit, reason = _fit_purchases(histories, opts)
        per_history = _purchase_columns(histories, opts, purchase_fit) if purchase_fit is not None else None
        spend_fit, independence = spend_job.result()
        scored = rfm_job.result()
    if purchase_fit is None:
        spend_fit, independence = None, None
        notes.clear()
    columns = _model_columns(scored, opts, per_history, history_of, spend_fit)
    return Scoring(table=scored.with_columns(**columns), options=opts, bgnbd=purchase_fit,
                   gammagamma=spend_fit, independence=independence, fallback_reason=reason, notes=notes)


def _distinct_histories(summary: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """The distinct (frequency, recency, T) rows in sorted order with their customer counts, and each
    customer's row among them (so per-history figures reach customers by an index, not a join).

    Sorted, because the fit's sums (hence, on the edge of fitting at all, its verdict) must not depend on the
    order: the same orders always give the same scores. NumPy's lexsort does this about twice as fast as a
    Polars group-by, sort and join back on 1,000,000 customers (bench/RESULTS.md, issue #3); when the three
    are whole numbers (days) one stable sort of them packed into one integer gives the same order, and the
    step takes 0.37 s there instead of 0.58-0.75 s.
    """
    keys = [summary[c] for c in ("frequency", "recency", "T")]
    values = [k.to_numpy() for k in keys]
    packed = _packed_history(values)
    if packed is not None:  # one stable sort of one integer: the same order as the lexsort below
        order = np.argsort(packed, kind="stable")
        ordered = packed[order]
        same = ordered[1:] == ordered[:-1]
    else:
        order = np.lexsort(values[::-1])  # the last key sorts first
        same = np.ones(max(order.size - 1, 0), dtype=bool)  # a row equal to the one before in every key
        for v in values:
            ordered = v[order]
            same &= ordered[1:] == ordered[:-1]
    first = np.concatenate(([True], ~same))[:order.size]
    starts = np.flatnonzero(first)
    history_of = np.empty(order.size, dtype=np.int64)
    history_of[order] = np.cumsum(first) - 1
    at = pl.Series(order[starts])
    histories = pl.DataFrame([k.gather(at) for k in keys]).with_columns(
        pl.Series("count", np.diff(np.append(starts, order.size)), dtype=pl.UInt32))
    return histories, history_of


_PACK_BITS = 21  # recency and T below 2^21 (5,700 years in days), frequency below 2^21 too: 63 bits


def _packed_history(values: list[np.ndarray]) -> np.ndarray | None:
    """(frequency, recency, T) as one int64 that sorts as the three keys do, or None unless all three are whole
    numbers in [0, 2^21) (in days they are; in weeks, or with a gap, the caller sorts on the three keys)."""
    limit = float(1 << _PACK_BITS)
    for v in values:
        if v.size and not (v.dtype.kind in "iuf" and np.all((v >= 0) & (v < limit) & (v == np.floor(v)))):
            return None
    x, t_x, age = (v.astype(np.int64) for v in values)
    return (x << (2 * _PACK_BITS)) | (t_x << _PACK_BITS) | age


def _segments(summary: pl.DataFrame, opts: ScoringOptions, customer_id_col: str) -> pl.DataFrame:
    """The summary with RFM scores, segment and days since the last purchase."""
    scored = rfm_segments(rfm_scores(summary, customer_id_col=customer_id_col), opts.segment_map)
    return scored.with_columns(((pl.col("T") - pl.col("recency")) * opts.time_unit_days).alias("days_since_last"))


def _fit_purchases(histories: pl.DataFrame, opts: ScoringOptions) -> tuple[BgNbdFit | None, str | None]:
    """BG/NBD on the distinct (frequency, recency, T) rows with their counts, or no fit and the reason."""
    if histories.height == 0:
        return None, "There are no customers with a purchase yet."
    from ravingfans.analytics.btyd import bgnbd

    # A customer first seen on the last day (T = 0) has had no time to show a rate: no information.
    try:
        return bgnbd.fit(histories.filter(pl.col("T") > 0), min_repeat_buyers=opts.min_repeat_buyers), None
    except NotEnoughData as exc:
        return None, (f"{exc.message} Purchase forecasts, P(alive) and lifetime value are left empty; "
                      "segments and each customer's own rhythm are still shown.")


def _fit_spend(scored: pl.DataFrame, opts: ScoringOptions,
               notes: list[str]) -> tuple[GammaGammaFit | None, IndependenceCheck | None]:
    """Gamma-Gamma on repeat buyers with positive spend, and its independence check."""
    from ravingfans.analytics.btyd import gammagamma

    repeat = (scored.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
              .group_by("frequency", "monetary_value").agg(pl.len().alias("count")).sort("frequency", "monetary_value"))
    if repeat.height == 0:
        notes.append("No repeat buyer has a positive spend; expected spend is each customer's mean spend.")
        return None, None
    check = gammagamma.independence_check(repeat["frequency"], repeat["monetary_value"], repeat["count"])
    try:
        fit = gammagamma.fit(repeat, min_repeat_buyers=opts.min_repeat_buyers)
    except (NotEnoughData, ValidationFailed) as exc:
        notes.append(f"{exc.message} Expected spend is each customer's own mean spend per purchase.")
        return None, check
    if fit.q <= 1:
        notes.append(f"The spend model's q = {fit.q:.3g} is 1 or less (spend too heavy-tailed); expected spend "
                     "is each customer's own mean spend per purchase.")
        return None, check
    if not check.ok:
        notes.append(check.verdict)
    return fit, check


def _purchase_columns(histories: pl.DataFrame, opts: ScoringOptions, fit: BgNbdFit) -> pl.DataFrame:
    """Per distinct history: P(alive), purchases over the horizon, and month-by-month discounted purchases."""
    x, t_x, age = (histories[c].to_numpy().astype(np.float64) for c in ("frequency", "recency", "T"))
    # T = 0 (first purchase on the last day) is the limit T -> 0 of the formulas: a brand-new customer.
    age = np.maximum(age, _NEW_CUSTOMER_AGE)
    months = max(1, int(round(opts.horizon_days / DAYS_PER_MONTH)))
    month, horizon = DAYS_PER_MONTH / opts.time_unit_days, opts.horizon_days / opts.time_unit_days
    # one call for every horizon: the 2F1 is evaluated once per distinct (x, T), not once per history
    by_horizon = fit.expected_purchases_by_horizon([k * month for k in range(1, months + 1)] + [horizon], x, t_x, age)
    discounted = np.zeros_like(x, dtype=np.float64)
    previous = np.zeros_like(discounted)
    for k, cum in enumerate(by_horizon[:-1], start=1):
        discounted += (cum - previous) / (1 + opts.monthly_discount_rate) ** k
        previous = cum
    return histories.select("frequency", "recency", "T").with_columns(
        pl.Series("p_alive", fit.p_alive(x, t_x, age)),
        pl.Series("expected_purchases", by_horizon[-1]),
        pl.Series("_discounted_purchases", discounted),
    )


def _model_columns(scored: pl.DataFrame, opts: ScoringOptions, per_history: pl.DataFrame | None,
                   history_of: np.ndarray, spend_fit: GammaGammaFit | None) -> dict[str, pl.Series]:
    """P(alive), expected purchases, expected spend and CLV per customer (empty without a purchase model);
    ``history_of`` gives each customer's row of ``per_history`` (the segments keep the summary's order)."""
    if per_history is None:
        empty = pl.Series(values=[None] * scored.height, dtype=pl.Float64)
        return {c: empty for c in ("p_alive", "expected_purchases", "expected_spend", "clv")}
    joined = per_history.select("p_alive", "expected_purchases", "_discounted_purchases")[history_of]
    freq = scored["frequency"].to_numpy()
    if spend_fit is not None:
        spend = spend_fit.conditional_expected_average_spend(freq, np.where(freq > 0, scored["monetary_value"], 1.0))
    else:  # the customer's own mean spend per purchase occasion
        spend = (scored["total_spend"] / scored["purchases"]).to_numpy()
    spend = pl.Series(spend, dtype=pl.Float64)
    return {
        "p_alive": joined["p_alive"],
        "expected_purchases": joined["expected_purchases"],
        "expected_spend": spend,
        "clv": joined["_discounted_purchases"] * spend * opts.margin,
    }
