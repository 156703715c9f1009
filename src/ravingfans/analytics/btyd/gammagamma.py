"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves", JMR 42(4);
Colombo & Jiang 1999) and the discounted customer-lifetime-value sum built on a purchase model.

Each transaction's value is Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers; a repeat buyer's
mean spend m_x over x transactions then shrinks towards the population mean p * gamma / (q - 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from ravingfans.analytics.btyd.fitting import (
    DAYS_PER_MONTH,
    MIN_REPEAT_BUYERS,
    FloatArray,
    Pilot,
    _column,
    as_float_array,
    maximise,
    require_repeat_buyers,
    thinned_counts,
    wsum,
)
from ravingfans.errors import ValidationFailed

MODEL = "the Gamma-Gamma spend model"
CORRELATION_WARN = 0.3
"""|Pearson r| between frequency and spend above which the independence assumption is called into doubt."""


@dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma parameters with standard errors (inverse Hessian, delta method) and fit facts."""

    p: float
    q: float
    gamma: float
    p_se: float
    q_se: float
    gamma_se: float
    log_likelihood: float
    n_customers: int
    converged: bool

    @property
    def population_mean_spend(self) -> float:
        """E[Z] across customers, p * gamma / (q - 1); infinite (undefined) when q <= 1."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")

    def conditional_expected_average_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """Expected mean spend per transaction per customer under these parameters."""
        return conditional_expected_average_spend(self, frequency, monetary_value)


@dataclass(frozen=True)
class IndependenceCheck:
    """The frequency-spend independence check the model relies on, with a verdict in plain words."""

    correlation: float
    n_repeat_buyers: int
    ok: bool
    verdict: str


class PurchaseModel(Protocol):
    """Anything that forecasts purchases per customer (a BG/NBD or Pareto/NBD fit)."""

    def conditional_expected_purchases(self, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                                       T: ArrayLike) -> FloatArray: ...


def _spend_arrays(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validated, broadcast (x, m_x) arrays."""
    x, m = np.broadcast_arrays(as_float_array(frequency, "frequency"), as_float_array(monetary_value, "monetary_value"))
    if np.any(x < 0):
        raise ValidationFailed("frequency must be 0 or more", field="frequency")
    if np.any(m[x > 0] <= 0):
        bad = int(np.sum(m[x > 0] <= 0))
        raise ValidationFailed(f"{bad} repeat buyer(s) have a mean spend of 0 or less; the spend model needs "
                               "positive amounts (leave out refunds-only customers)", field="monetary_value")
    return x.astype(np.float64), m.astype(np.float64)


def log_likelihood_rows(p: float, q: float, gamma: float, x: FloatArray, m: FloatArray) -> FloatArray:
    """Per-customer log density of mean spend m_x given x transactions (FHL 2005, JMR)."""
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(gamma + x * m))


class _Likelihood:
    """The total Gamma-Gamma log-likelihood of the repeat buyers and its analytic gradient, for the optimiser.

    The gamma functions are taken once per distinct x; per buyer, the terms are regrouped so that one
    log1p(x m / gamma) is the only transcendental call and large terms do not cancel in the sum.
    """

    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray) -> None:
        self.x, self.m, self.w = x, m, w
        self.xm = x * m
        self.log_xm = np.log(self.xm)
        self.log_m = np.log(m)
        self.wx = w * x
        self.n = float(w.sum())
        self.ux, ix = np.unique(x, return_inverse=True)
        self.w_ux = np.bincount(ix, weights=w, minlength=self.ux.size)  # buyers per distinct x

    def __call__(self, params: FloatArray) -> tuple[float, FloatArray]:
        """Sum of log_likelihood_rows weighted by count, and its gradient in (p, q, gamma)."""
        p, q, gamma = (float(v) for v in params)
        n, ux, w_ux = self.n, self.ux, self.w_ux
        log_gamma = np.log(gamma)
        l1 = np.log1p(self.xm / gamma)  # log((gamma + x m) / gamma)
        share = self.log_xm - log_gamma - l1  # log(x m / (gamma + x m))
        # (px-1) log m + px log x + q log gamma - (px+q) log(gamma + x m), regrouped
        rows = p * self.x * share - q * l1 - self.log_m
        pux = p * ux
        total = wsum(w_ux, gammaln(pux + q) - gammaln(pux)) - n * gammaln(q) + wsum(self.w, rows)
        psi_pq = digamma(pux + q)
        d_p = wsum(w_ux * ux, psi_pq - digamma(pux)) + wsum(self.wx, share)
        d_q = wsum(w_ux, psi_pq) - n * digamma(q) - wsum(self.w, l1)
        d_gamma = wsum(self.w, (q * self.xm / gamma - p * self.x) / (gamma + self.xm))
        return total, np.array([d_p, d_q, d_gamma])


def fit(data: Any = None, *, frequency: ArrayLike | None = None, monetary_value: ArrayLike | None = None,
        count: ArrayLike | None = None, min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> GammaGammaFit:
    """Fit Gamma-Gamma by maximum likelihood on repeat buyers (frequency > 0); others are ignored."""
    if data is not None:
        frequency, monetary_value = _column(data, "frequency"), _column(data, "monetary_value")
        count = _column(data, "count") if count is None else count
    if frequency is None or monetary_value is None:
        raise ValidationFailed("need frequency and monetary_value columns", field="monetary_value")
    x, m = _spend_arrays(frequency, monetary_value)
    w = np.ones_like(x) if count is None else np.broadcast_to(as_float_array(count, "count"), x.shape)
    keep = (x > 0) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    n_repeat = int(round(float(w.sum())))
    require_repeat_buyers(n_repeat, MODEL, min_repeat_buyers)

    likelihood = _Likelihood(x, m, w)

    def total(params: FloatArray) -> float:
        return likelihood(params)[0]

    thin = thinned_counts(w)
    pilot = None
    if thin is not None:  # a large table: first fit a thinned sample of the buyers (see maximise)
        sample = thin > 0
        pilot = Pilot(_Likelihood(x[sample], m[sample], thin[sample]), int(thin.sum()))
    res = maximise(total, [1.0, 1.0, float(np.average(m, weights=w))], MODEL, n_repeat, log_lik_grad=likelihood,
                   pilot=pilot)
    (p, q, gamma), se = res.params, res.stderr
    return GammaGammaFit(p=float(p), q=float(q), gamma=float(gamma), p_se=float(se[0]), q_se=float(se[1]),
                         gamma_se=float(se[2]), log_likelihood=res.log_likelihood, n_customers=n_repeat,
                         converged=res.converged)


def conditional_expected_average_spend(g: GammaGammaFit, frequency: ArrayLike,
                                       monetary_value: ArrayLike) -> FloatArray:
    """E[Z | x, m_x] = (q-1)/(px+q-1) * population mean + px/(px+q-1) * m_x (FHL 2005, JMR)."""
    if g.q <= 1:
        raise ValidationFailed(f"The spend model's q = {g.q:.3g} is 1 or less, so average spend has no finite "
                               "expectation; spend is too heavy-tailed for this model.", field="monetary_value")
    x, m = _spend_arrays(frequency, monetary_value)
    m = np.where(x > 0, m, 0.0)  # a customer without repeat purchases gets the population mean
    px = g.p * x
    return (g.p * g.gamma + px * m) / (px + g.q - 1)


def independence_check(frequency: ArrayLike, monetary_value: ArrayLike, count: ArrayLike | None = None,
                       threshold: float = CORRELATION_WARN) -> IndependenceCheck:
    """Pearson correlation of frequency and mean spend among repeat buyers; the model assumes it is ~0."""
    x, m = _spend_arrays(frequency, monetary_value)
    w = np.ones_like(x) if count is None else np.broadcast_to(as_float_array(count, "count"), x.shape)
    keep = (x > 0) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    n = int(round(float(w.sum())))
    if n < 3 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return IndependenceCheck(float("nan"), n, False,
                                 f"Cannot check: {n} repeat buyer(s) with too little variation to correlate.")
    xc, mc = x - np.average(x, weights=w), m - np.average(m, weights=w)
    corr = float(np.sum(w * xc * mc) / np.sqrt(np.sum(w * xc**2) * np.sum(w * mc**2)))
    ok = abs(corr) <= threshold
    if ok:
        verdict = (f"Frequency and spend look unrelated (correlation {corr:+.2f} across {n} repeat buyers), "
                   "so the spend model's independence assumption holds well enough.")
    else:
        direction = "more" if corr > 0 else "less"
        verdict = (f"Customers who buy more often also spend {direction} per order (correlation {corr:+.2f} "
                   f"across {n} repeat buyers); the spend model assumes they are unrelated, so treat its "
                   "spend and lifetime-value figures with caution.")
    return IndependenceCheck(corr, n, ok, verdict)


def clv(bgnbd_params: PurchaseModel, gg_params: GammaGammaFit, frequency: ArrayLike, recency: ArrayLike,
        T: ArrayLike, monetary_value: ArrayLike, horizon_months: int = 12, margin: float = 1.0,
        monthly_discount_rate: float = 0.01, time_unit_days: float = 1.0) -> FloatArray:
    """Discounted margin over the next months: sum of E[purchases in month k] * E[spend] * margin / (1+d)^k."""
    if horizon_months < 0 or int(horizon_months) != horizon_months:
        raise ValidationFailed("horizon_months must be a whole number, 0 or more", field="horizon_months")
    if monthly_discount_rate <= -1 or time_unit_days <= 0 or not np.isfinite(margin):
        raise ValidationFailed("need monthly_discount_rate > -1, time_unit_days > 0 and a finite margin",
                               field="monthly_discount_rate")
    spend = conditional_expected_average_spend(gg_params, frequency, monetary_value)
    month = DAYS_PER_MONTH / time_unit_days  # one month in the model's time unit
    total = np.zeros_like(spend)
    previous = np.zeros_like(spend)
    for k in range(1, int(horizon_months) + 1):
        cumulative = bgnbd_params.conditional_expected_purchases(k * month, frequency, recency, T)
        total = total + (cumulative - previous) * spend * margin / (1 + monthly_discount_rate) ** k
        previous = cumulative
    return total
