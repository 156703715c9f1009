"""BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way", Marketing Science 24(2)).

Repeat purchases follow a Poisson process with rate lambda ~ Gamma(r, alpha); after each repeat purchase
a customer drops out with probability p ~ Beta(a, b). Everything is computed in log space so that
customers with hundreds of purchases over thousands of days neither overflow nor turn into NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, expit, gammaln

from ravingfans.analytics.btyd.fitting import (
    MIN_REPEAT_BUYERS,
    FloatArray,
    Pilot,
    as_float_array,
    check_rfm,
    Compressed,
    compressed,
    hyp2f1_robust,
    maximise,
    require_repeat_buyers,
    thinned_counts,
    wsum,
)
from ravingfans.errors import ValidationFailed

MODEL = "the BG/NBD model"
_NEAR = 1e-4  # within this of a = 1 (or of c = 0) the closed form is 0/0; interpolate across instead


@dataclass(frozen=True)
class BgNbdFit:
    """Fitted BG/NBD parameters with standard errors (inverse Hessian, delta method) and fit facts."""

    r: float
    alpha: float
    a: float
    b: float
    r_se: float
    alpha_se: float
    a_se: float
    b_se: float
    log_likelihood: float
    n_customers: int
    converged: bool

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive | x, t_x, T) per customer under these parameters."""
        return p_alive(self, frequency, recency, T)

    def conditional_expected_purchases(self, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                                       T: ArrayLike) -> FloatArray:
        """Expected repeat purchases in the next t units per customer under these parameters."""
        return conditional_expected_purchases(self, t, frequency, recency, T)

    def expected_purchases_by_horizon(self, horizons: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                                      T: ArrayLike) -> FloatArray:
        """Expected repeat purchases for each of several horizons (rows) per customer (columns)."""
        return expected_purchases_by_horizon(self, horizons, frequency, recency, T)

    def expected_purchases_new_customer(self, t: float | ArrayLike) -> FloatArray:
        """Expected repeat purchases of a brand-new customer in their first t units."""
        return expected_purchases_new_customer(self, t)


def log_likelihood_rows(r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray,
                        T: FloatArray) -> FloatArray:
    """Per-row log-likelihood, eq. (6) of FHL (2005), via betaln/gammaln and logaddexp."""
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    term1 = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    has = x > 0
    x_safe = np.where(has, x, 1.0)  # betaln(a+1, b-1) is undefined at x=0 when b < 1; that term is absent
    term2 = np.where(has, betaln(a + 1, b + x_safe - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return common + np.logaddexp(term1, term2)


class _Likelihood:
    """The total BG/NBD log-likelihood of a compressed table and its analytic gradient, for the optimiser.

    Everything that depends on a row only through x, t_x or T (gammaln/betaln/digamma in x, log(alpha + T))
    is computed once per distinct value and gathered, so one call costs a few passes over the rows.
    """

    def __init__(self, c: Compressed) -> None:
        self.w = c.count
        self.n = float(c.count.sum())
        self.ux, self.ix = np.unique(c.frequency, return_inverse=True)
        self.wx = np.bincount(self.ix, weights=self.w, minlength=self.ux.size)  # customers per distinct x
        self.ut, self.it = np.unique(c.recency, return_inverse=True)
        self.uT, self.iT = np.unique(c.T, return_inverse=True)
        self.x = c.frequency
        self.has = c.frequency > 0
        self.ux_has = self.ux > 0
        self.ux_safe = np.where(self.ux_has, self.ux, 1.0)  # the t_x term is absent at x = 0

    def __call__(self, params: FloatArray) -> tuple[float, FloatArray]:
        """Total log-likelihood (eq. 6 of FHL 2005, weighted by count) and its gradient in (r, alpha, a, b)."""
        r, alpha, a, b = (float(v) for v in params)
        ux, ux_safe, has_u = self.ux, self.ux_safe, self.ux_has
        log_aT = np.log(alpha + self.uT)
        log_at = np.log(alpha + self.ut)
        # per distinct x: beta functions of the two terms, relative to betaln(a, b)
        lb_a = betaln(a, b + ux)
        lb_b = np.where(has_u, betaln(a + 1, b + ux_safe - 1), -np.inf)
        rx = r + self.x
        term_a = lb_a[self.ix] - rx * log_aT[self.iT]
        term_b = lb_b[self.ix] - rx * log_at[self.it]  # -inf where x = 0: lb_b is -inf there
        diff = term_b - term_a
        # logaddexp(term_a, term_b), written out: np.logaddexp is several times slower on large arrays
        mix = np.maximum(term_a, term_b) + np.log1p(np.exp(-np.abs(diff)))
        share_b = np.exp(term_b - mix)  # the t_x term's share of the likelihood
        share_a = 1.0 - share_b
        w = self.w
        n = self.n
        const = (wsum(self.wx, gammaln(r + ux)) - n * gammaln(r) + n * r * np.log(alpha)
                 - n * betaln(a, b))
        total = const + wsum(w, mix)
        wa, wb = w * share_a, w * share_b
        wa_T = np.bincount(self.iT, weights=wa * rx, minlength=self.uT.size)
        wb_t = np.bincount(self.it, weights=wb * rx, minlength=self.ut.size)
        wa_Tl = np.bincount(self.iT, weights=wa, minlength=self.uT.size)
        wb_tl = np.bincount(self.it, weights=wb, minlength=self.ut.size)
        wb_x = np.bincount(self.ix, weights=wb, minlength=ux.size)
        wa_x = self.wx - wb_x
        d_r = (wsum(self.wx, digamma(r + ux)) - n * digamma(r) + n * np.log(alpha)
               - wsum(wa_Tl, log_aT) - wsum(wb_tl, log_at))
        d_alpha = n * r / alpha - float(np.sum(wa_T / (alpha + self.uT))) - float(np.sum(wb_t / (alpha + self.ut)))
        psi_abx = digamma(a + b + ux)
        psi_ab = digamma(a + b)
        d_a = (-n * (digamma(a) - psi_ab) + wsum(wa_x, digamma(a) - psi_abx)
               + wsum(wb_x, digamma(a + 1) - psi_abx))
        d_b = (-n * (digamma(b) - psi_ab) + wsum(wa_x, digamma(b + ux) - psi_abx)
               + wsum(wb_x, np.where(has_u, digamma(b + ux_safe - 1), 0.0) - psi_abx * has_u))
        return total, np.array([d_r, d_alpha, d_a, d_b])


def fit(data: Any = None, *, frequency: ArrayLike | None = None, recency: ArrayLike | None = None,
        T: ArrayLike | None = None, count: ArrayLike | None = None,
        min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> BgNbdFit:
    """Fit BG/NBD by maximum likelihood on the compressed (frequency, recency, T, count) table."""
    c = compressed(data, frequency=frequency, recency=recency, T=T, count=count)
    require_repeat_buyers(c.n_repeat_buyers, MODEL, min_repeat_buyers)
    likelihood = _Likelihood(c)

    def total(params: FloatArray) -> float:
        return likelihood(params)[0]

    scale_guess = float(np.average(c.T, weights=c.count))
    res = maximise(total, [1.0, max(scale_guess / 10, 1e-3), 1.0, 1.0], MODEL, c.n_repeat_buyers,
                   log_lik_grad=likelihood, pilot=_pilot(c))
    (r, alpha, a, b), se = res.params, res.stderr
    return BgNbdFit(r=float(r), alpha=float(alpha), a=float(a), b=float(b), r_se=float(se[0]),
                    alpha_se=float(se[1]), a_se=float(se[2]), b_se=float(se[3]),
                    log_likelihood=res.log_likelihood, n_customers=c.n_customers, converged=res.converged)


def _pilot(c: Compressed) -> Pilot | None:
    """The likelihood of a thinned sample of the customers, for a table large enough to gain from one."""
    count = thinned_counts(c.count)
    if count is None:
        return None
    keep = count > 0
    sample = Compressed(c.frequency[keep], c.recency[keep], c.T[keep], count[keep])
    return Pilot(_Likelihood(sample), sample.n_repeat_buyers)


def _log_odds_dead(p: BgNbdFit, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """log of the odds "dropped out : alive" given the history (-inf for customers with no repeat purchase)."""
    has = x > 0
    x_safe = np.where(has, x, 1.0)
    lo = (np.log(p.a) - np.log(p.b + x_safe - 1)
          + (p.r + x) * (np.log(p.alpha + T) - np.log(p.alpha + t_x)))
    return np.where(has, lo, -np.inf)


def p_alive(p: BgNbdFit, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive | x, t_x, T) (Fader, Hardie & Lee 2005): 1 / (1 + odds of having dropped out)."""
    x, t_x, age = check_rfm(frequency, recency, T)
    return expit(-_log_odds_dead(p, x, t_x, age))


def _one_minus_scaled_f(a: float, b: float, r: float, x: FloatArray, z: FloatArray) -> FloatArray:
    """1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z), via Euler's transform so the 2F1 never diverges."""
    # (1-z)^(r+x) F(r+x, b+x; c; z) = (1-z)^(a-1) F(a+b-1-r, a-1; c; z), with c = a+b+x-1.
    f = hyp2f1_robust(a + b - 1 - r, a - 1, a + b + x - 1, z)
    log_power = (a - 1) * np.log1p(-z)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # F can be negative when c < 0 (x = 0 and a + b < 1); expm1 keeps precision for small t otherwise
        return np.where(f > 0, -np.expm1(log_power + np.log(np.abs(f))), 1 - np.exp(log_power) * f)


def _expected_if_alive(a: float, b: float, r: float, x: FloatArray, z: FloatArray) -> FloatArray:
    """(a+b+x-1)/(a-1) * [1 - (1-z)^(r+x) 2F1(...)]: eq. (10) without P(alive); smooth through a = 1."""
    if abs(a - 1) < _NEAR:  # 0/0 at a = 1: interpolate linearly between a = 1 -/+ delta
        w = (a - 1 + _NEAR) / (2 * _NEAR)
        return (1 - w) * _c_safe(1 - _NEAR, b, r, x, z) + w * _c_safe(1 + _NEAR, b, r, x, z)
    return _c_safe(a, b, r, x, z)


def _c_safe(a: float, b: float, r: float, x: FloatArray, z: FloatArray) -> FloatArray:
    """The closed form, bridged across c = a+b+x-1 = 0 (only when x = 0, a + b = 1), where 2F1 has a pole."""
    out = _raw_if_alive(a, b, r, x, z)
    c0 = a + b - 1
    if abs(c0) < _NEAR and np.any(x == 0):
        w = (c0 + _NEAR) / (2 * _NEAR)
        bridged = (1 - w) * _raw_if_alive(a, 1 - a - _NEAR, r, x, z) + w * _raw_if_alive(a, 1 - a + _NEAR, r, x, z)
        out = np.where(x == 0, bridged, out)
    return out


def _raw_if_alive(a: float, b: float, r: float, x: FloatArray, z: FloatArray) -> FloatArray:
    """The closed form itself, valid for a != 1 and c != 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a + b + x - 1) / (a - 1) * _one_minus_scaled_f(a, b, r, x, z)


def _horizon(t: float | ArrayLike) -> FloatArray:
    """The forecast horizon as a validated non-negative float array."""
    h = as_float_array(t, "t")
    if np.any(h < 0):
        raise ValidationFailed("the forecast horizon t must be 0 or more", field="t")
    return h


def conditional_expected_purchases(p: BgNbdFit, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                                   T: ArrayLike) -> FloatArray:
    """E[Y(t) | x, t_x, T], eq. (10) of FHL (2005): expected repeat purchases in (T, T + t]."""
    x, t_x, age = check_rfm(frequency, recency, T)
    h = _horizon(t)
    x, t_x, age, h = np.broadcast_arrays(x, t_x, age, h)
    z = h / (p.alpha + age + h)
    value = _expected_if_alive(p.a, p.b, p.r, x, z) * expit(-_log_odds_dead(p, x, t_x, age))
    return np.where(h == 0, 0.0, np.maximum(value, 0.0))


def expected_purchases_by_horizon(p: BgNbdFit, horizons: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                                  T: ArrayLike) -> FloatArray:
    """E[Y(t) | x, t_x, T] (eq. 10 of FHL 2005) for several horizons at once: shape (horizons, customers).

    Equal, value for value, to :func:`conditional_expected_purchases` called once per horizon, but the
    2F1 part depends on a customer only through (x, T), so it is computed once per distinct pair and
    horizon (a million customers have ~37,000 such pairs), and P(alive) once per customer.
    """
    x, t_x, age = check_rfm(frequency, recency, T)
    h = _horizon(horizons)[:, None]
    pairs, inverse = np.unique(x + 1j * age, return_inverse=True)
    pair_x, pair_age = pairs.real.copy(), pairs.imag.copy()
    z = h / (p.alpha + pair_age + h)
    if_alive = _expected_if_alive(p.a, p.b, p.r, np.broadcast_to(pair_x, z.shape), z)
    value = np.take(if_alive, inverse.ravel(), axis=1)  # row by row: far faster than 2-D fancy indexing
    value *= expit(-_log_odds_dead(p, x, t_x, age))
    np.maximum(value, 0.0, out=value)
    value[h[:, 0] == 0] = 0.0
    return value


def expected_purchases_new_customer(p: BgNbdFit, t: float | ArrayLike) -> FloatArray:
    """E[X(t)], eq. (9) of FHL (2005): expected repeat purchases of a new customer in their first t units."""
    h = _horizon(t)
    z = h / (p.alpha + h)
    value = _expected_if_alive(p.a, p.b, p.r, np.zeros_like(h), z)
    return np.where(h == 0, 0.0, np.maximum(value, 0.0))


def simulate(r: float, alpha: float, a: float, b: float, T: ArrayLike,
             rng: np.random.Generator) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw (x, t_x, T) for customers of ages T from the BG/NBD story (for tests and sanity checks)."""
    age = as_float_array(T, "T")
    lam = rng.gamma(r, 1.0 / alpha, size=age.size)
    p = rng.beta(a, b, size=age.size)
    n = rng.poisson(lam * age)  # purchases the process would make by T if nobody dropped out
    last = rng.geometric(p)  # the purchase after which the customer drops out
    x = np.minimum(n, last)
    # given n events in (0, T], the k-th event time is T * Beta(k, n - k + 1)
    t_x = np.where(x > 0, age * rng.beta(np.maximum(x, 1), np.maximum(n - x + 1, 1)), 0.0)
    return x.astype(np.float64), t_x, age
