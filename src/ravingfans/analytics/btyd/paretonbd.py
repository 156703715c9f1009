"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), in the form of Fader & Hardie's 2005 note.

Purchases follow a Poisson process with rate lambda ~ Gamma(r, alpha) while the customer is alive; the
unobserved lifetime is exponential with rate mu ~ Gamma(s, beta). The likelihood uses the note's
2F1 expressions (separately for alpha >= beta and beta > alpha so that |z| < 1), in log space.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, gammaln

from ravingfans.analytics.btyd.fitting import (
    MIN_REPEAT_BUYERS,
    FloatArray,
    as_float_array,
    Compressed,
    check_rfm,
    compressed,
    log_diff_exp,
    log_hyp2f1,
    maximise,
    require_repeat_buyers,
    wsum,
)
from ravingfans.errors import ValidationFailed

MODEL = "the Pareto/NBD model"


@dataclass(frozen=True)
class ParetoNbdFit:
    """Fitted Pareto/NBD parameters with standard errors (inverse Hessian, delta method) and fit facts."""

    r: float
    alpha: float
    s: float
    beta: float
    r_se: float
    alpha_se: float
    s_se: float
    beta_se: float
    log_likelihood: float
    n_customers: int
    converged: bool

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive | x, t_x, T) per customer under these parameters."""
        return p_alive(self, frequency, recency, T)

    def conditional_expected_purchases(self, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                                       T: ArrayLike) -> FloatArray:
        """Expected purchases in the next t units per customer under these parameters."""
        return conditional_expected_purchases(self, t, frequency, recency, T)

    def expected_purchases_new_customer(self, t: float | ArrayLike) -> FloatArray:
        """Expected repeat purchases of a brand-new customer in their first t units."""
        return expected_purchases_new_customer(self, t)


def _log_terms(r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray,
               T: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The three log pieces of the likelihood: common factor, "alive at T" term, "died in (t_x, T]" term."""
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    rsx = r + s + x
    if alpha >= beta:  # z = (alpha - beta) / (alpha + t) stays in [0, 1)
        b2: FloatArray | float = s + 1
        lo, hi = alpha + t_x, alpha + T
        zl, zh = (alpha - beta) / lo, (alpha - beta) / hi
    else:  # beta > alpha: z = (beta - alpha) / (beta + t)
        b2, lo, hi = r + x, beta + t_x, beta + T
        zl, zh = (beta - alpha) / lo, (beta - alpha) / hi
    with np.errstate(all="ignore"):
        first = log_hyp2f1(rsx, b2, rsx + 1, zl) - rsx * np.log(lo)
        second = log_hyp2f1(rsx, b2, rsx + 1, zh) - rsx * np.log(hi)
    died = np.where(t_x < T, np.log(s) - np.log(rsx) + log_diff_exp(first, second), -np.inf)
    bad = ~np.isfinite(died) & (t_x < T)  # 2F1 failed (huge x with z near 1): integrate those rows directly
    for i in np.flatnonzero(bad):
        died[i] = _log_died_by_quadrature(r, alpha, s, beta, float(x[i]), float(t_x[i]), float(T[i]))
    return common, alive, died


def _log_died_by_quadrature(r: float, alpha: float, s: float, beta: float, x: float, t_x: float,
                            T: float) -> float:
    """log of s * int_{t_x}^T (beta+tau)^-(s+1) (alpha+tau)^-(r+x) d tau, the "died in (t_x, T]" term."""

    def log_f(tau: float) -> float:
        return float(-(s + 1) * np.log(beta + tau) - (r + x) * np.log(alpha + tau))

    from scipy.integrate import IntegrationWarning, quad  # a rare fallback: keep scipy.integrate off import

    peak = log_f(t_x)  # the integrand falls with tau
    scale = (alpha + t_x) / (r + x + s)  # its e-folding length near t_x
    breaks = sorted({t_x, *(v for v in (t_x + scale, t_x + 10 * scale, t_x + 100 * scale) if v < T), T})
    with warnings.catch_warnings():  # a last resort: take quad's best effort rather than warn per row
        warnings.simplefilter("ignore", IntegrationWarning)
        total = sum(quad(lambda tau: np.exp(log_f(tau) - peak), lo, hi, epsabs=0, epsrel=1e-10, limit=200)[0]
                    for lo, hi in pairwise(breaks))
    return float(np.log(s) + peak + np.log(total)) if total > 0 else -np.inf


def log_likelihood_rows(r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray,
                        T: FloatArray) -> FloatArray:
    """Per-row log-likelihood of (x, t_x, T): log of common * (alive-at-T + died-in-(t_x, T]) terms."""
    common, alive, died = _log_terms(r, alpha, s, beta, x, t_x, T)
    return common + np.logaddexp(alive, died)


class _Likelihood:
    """The total Pareto/NBD log-likelihood of a compressed table, for the optimiser.

    The costly part, log 2F1 of the "died in (t_x, T]" term, depends on a row only through (x, t_x) and
    (x, T); it is computed once per distinct pair (a quarter of the rows' 2F1 calls on daily data) and
    gathered, as are the logs of alpha + T and beta + T per distinct T and gammaln per distinct x.
    """

    def __init__(self, c: Compressed) -> None:
        self.c = c
        self.w = c.count
        self.n = float(c.count.sum())
        self.ux, self.ix = np.unique(c.frequency, return_inverse=True)
        self.wx = np.bincount(self.ix, weights=self.w, minlength=self.ux.size)
        self.uT, self.iT = np.unique(c.T, return_inverse=True)
        # distinct (x, u) pairs over u in t_x and T, keyed as the complex number x + i u
        pairs, inverse = np.unique(np.concatenate((c.frequency + 1j * c.recency, c.frequency + 1j * c.T)),
                                   return_inverse=True)
        self.px, self.pu = pairs.real.copy(), pairs.imag.copy()
        self.i_first, self.i_second = inverse[: c.frequency.size], inverse[c.frequency.size:]
        self.died_rows = c.recency < c.T

    def __call__(self, params: FloatArray) -> float:
        """Sum of log_likelihood_rows weighted by count."""
        r, alpha, s, beta = (float(v) for v in params)
        c, x, w = self.c, self.c.frequency, self.w
        common = (wsum(self.wx, gammaln(r + self.ux)) - self.n * gammaln(r)
                  + self.n * (r * np.log(alpha) + s * np.log(beta)))
        alive = -(r + x) * np.log(alpha + self.uT)[self.iT] - s * np.log(beta + self.uT)[self.iT]
        log_g = _log_tail(r, alpha, s, beta, self.px, self.pu)
        rsx = r + s + x
        with np.errstate(all="ignore"):
            died = np.where(self.died_rows,
                            np.log(s) - np.log(rsx) + log_diff_exp(log_g[self.i_first], log_g[self.i_second]),
                            -np.inf)
        bad = ~np.isfinite(died) & self.died_rows
        for i in np.flatnonzero(bad):
            died[i] = _log_died_by_quadrature(r, alpha, s, beta, float(x[i]), float(c.recency[i]), float(c.T[i]))
        return common + wsum(w, np.logaddexp(alive, died))


def _log_tail(r: float, alpha: float, s: float, beta: float, x: FloatArray, u: FloatArray) -> FloatArray:
    """log of (r+s+x) * int_u^inf (beta+tau)^-(s+1) (alpha+tau)^-(r+x) d tau, by the note's 2F1 forms."""
    rsx = r + s + x
    if alpha >= beta:  # z = (alpha - beta) / (alpha + u) stays in [0, 1)
        b2: FloatArray | float = s + 1
        base = alpha + u
        z = (alpha - beta) / base
    else:  # beta > alpha: z = (beta - alpha) / (beta + u)
        b2, base = r + x, beta + u
        z = (beta - alpha) / base
    with np.errstate(all="ignore"):
        return log_hyp2f1(rsx, b2, rsx + 1, z) - rsx * np.log(base)


def fit(data: Any = None, *, frequency: ArrayLike | None = None, recency: ArrayLike | None = None,
        T: ArrayLike | None = None, count: ArrayLike | None = None,
        min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> ParetoNbdFit:
    """Fit Pareto/NBD by maximum likelihood on the compressed (frequency, recency, T, count) table."""
    c = compressed(data, frequency=frequency, recency=recency, T=T, count=count)
    require_repeat_buyers(c.n_repeat_buyers, MODEL, min_repeat_buyers)
    total = _Likelihood(c)
    scale_guess = max(float(np.average(c.T, weights=c.count)) / 4, 1e-3)
    # forward differences: each likelihood call costs two 2F1 per distinct pair, and they are accurate
    # enough for L-BFGS-B here (about 100 calls instead of 160)
    res = maximise(total, [1.0, scale_guess, 1.0, scale_guess], MODEL, c.n_repeat_buyers, differences="2-point")
    (r, alpha, s, beta), se = res.params, res.stderr
    return ParetoNbdFit(r=float(r), alpha=float(alpha), s=float(s), beta=float(beta), r_se=float(se[0]),
                        alpha_se=float(se[1]), s_se=float(se[2]), beta_se=float(se[3]),
                        log_likelihood=res.log_likelihood, n_customers=c.n_customers, converged=res.converged)


def p_alive(p: ParetoNbdFit, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive | x, t_x, T): the share of the likelihood that comes from "still alive at T"."""
    x, t_x, age = check_rfm(frequency, recency, T)
    _, alive, died = _log_terms(p.r, p.alpha, p.s, p.beta, x, t_x, age)
    return expit(alive - died)


def _one_minus_power_over(s_minus_1: float, log_ratio: FloatArray) -> FloatArray:
    """(1 - exp((s-1) * log_ratio)) / (s - 1), continuous through s = 1 (where it is -log_ratio)."""
    if abs(s_minus_1) < 1e-10:
        return -log_ratio
    return -np.expm1(s_minus_1 * log_ratio) / s_minus_1


def conditional_expected_purchases(p: ParetoNbdFit, t: float | ArrayLike, frequency: ArrayLike,
                                   recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[Y(t) | x, t_x, T] (SMC 1987; Fader & Hardie's note): expected purchases in (T, T + t]."""
    x, t_x, age = check_rfm(frequency, recency, T)
    h = as_float_array(t, "t")
    if np.any(h < 0):
        raise ValidationFailed("the forecast horizon t must be 0 or more", field="t")
    x, t_x, age, h = np.broadcast_arrays(x, t_x, age, h)
    _, alive, died = _log_terms(p.r, p.alpha, p.s, p.beta, x, t_x, age)
    log_ratio = np.log(p.beta + age) - np.log(p.beta + age + h)
    value = ((p.r + x) * (p.beta + age) / (p.alpha + age)
             * _one_minus_power_over(p.s - 1, log_ratio) * expit(alive - died))
    return np.maximum(value, 0.0)


def expected_purchases_new_customer(p: ParetoNbdFit, t: float | ArrayLike) -> FloatArray:
    """E[X(t)] (SMC 1987): expected purchases of a new customer in their first t units."""
    h = as_float_array(t, "t")
    if np.any(h < 0):
        raise ValidationFailed("the forecast horizon t must be 0 or more", field="t")
    log_ratio = np.log(p.beta) - np.log(p.beta + h)
    return np.maximum(p.r * p.beta / p.alpha * _one_minus_power_over(p.s - 1, log_ratio), 0.0)


def simulate(r: float, alpha: float, s: float, beta: float, T: ArrayLike,
             rng: np.random.Generator) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw (x, t_x, T) for customers of ages T from the Pareto/NBD story (for tests and sanity checks)."""
    age = as_float_array(T, "T")
    lam = rng.gamma(r, 1.0 / alpha, size=age.size)
    mu = rng.gamma(s, 1.0 / beta, size=age.size)
    active = np.minimum(rng.exponential(1.0 / mu), age)  # observed active span
    x = rng.poisson(lam * active)
    # the last of x uniform event times on (0, active] is active * U^(1/x)
    t_x = np.where(x > 0, active * rng.uniform(size=age.size) ** (1.0 / np.maximum(x, 1)), 0.0)
    return x.astype(np.float64), t_x, age
