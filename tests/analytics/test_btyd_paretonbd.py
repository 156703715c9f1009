"""Pareto/NBD: published CDNOW estimates, agreement with direct integration, recovery, stability, fallback."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import expit, gammaln

from ravingfans.analytics.btyd import NotEnoughData, ParetoNbdFit, paretonbd

DATA = Path(__file__).parent / "data"


def _params(r: float = 0.553, alpha: float = 10.578, s: float = 0.606, beta: float = 11.669) -> ParetoNbdFit:
    return ParetoNbdFit(r, alpha, s, beta, 0, 0, 0, 0, 0.0, 0, True)


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    raw = pl.read_csv(DATA / "cdnow_customers_summary.csv")
    return raw.group_by(["frequency", "recency", "T"]).agg(pl.len().alias("count"))


def test_cdnow_matches_published_estimates(cdnow: pl.DataFrame) -> None:
    """Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions"
    (one of Bruce Hardie's notes, brucehardie.com): on the CDNOW sample, r = 0.553, alpha = 10.578, s = 0.606,
    beta = 11.669, LL = -9595.0 (the Pareto/NBD benchmark of FHL 2005, Marketing Science 24(2))."""
    f = paretonbd.fit(cdnow)
    for got, want in ((f.r, 0.553), (f.alpha, 10.578), (f.s, 0.606), (f.beta, 11.669)):
        assert got == pytest.approx(want, abs=1e-3, rel=5e-3)
    assert f.log_likelihood == pytest.approx(-9595.0, abs=0.05)
    assert f.converged and f.n_customers == 2357
    assert all(np.isfinite(v) and v > 0 for v in (f.r_se, f.alpha_se, f.s_se, f.beta_se))


def _log_pieces_by_quadrature(p: ParetoNbdFit, x: float, t_x: float, T: float) -> tuple[float, float]:
    """(log likelihood, log odds dead:alive) by integrating over the death time tau with lambda and mu integrated
    out: alive = beta^s / ((beta+T)^s (alpha+T)^(r+x)), died = int_{t_x}^T s beta^s (beta+tau)^-(s+1)
    (alpha+tau)^-(r+x) d tau, both times Gamma(r+x) alpha^r / Gamma(r)."""
    r, alpha, s, beta = p.r, p.alpha, p.s, p.beta

    def log_f(tau: float) -> float:  # log of the died-integrand relative to the alive term
        return (np.log(s) + s * np.log(beta + T) - (s + 1) * np.log(beta + tau)
                + (r + x) * (np.log(alpha + T) - np.log(alpha + tau)))

    peak = log_f(t_x)  # the integrand decreases in tau, so its largest value is at t_x
    width = min(alpha, beta) + t_x  # the integrand falls off on this scale times 1/(r+s+x) or slower
    cuts = [t_x + width * k / (r + s + x) for k in (1, 10, 100, 1000)] + [t_x + width * k for k in (1, 10, 100)]
    breaks = sorted({t_x, T, *(c for c in cuts if t_x < c < T)})
    rel = sum(integrate.quad(lambda tau: np.exp(log_f(tau) - peak), lo, hi, epsabs=0, epsrel=1e-12, limit=500)[0]
              for lo, hi in pairwise(breaks))
    log_odds = peak + np.log(rel) if rel > 0 else -np.inf
    log_alive = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
                 - s * np.log(beta + T) - (r + x) * np.log(alpha + T))
    return float(log_alive + np.logaddexp(0.0, log_odds)), float(log_odds)


@hsettings(max_examples=150, deadline=None)
@given(r=st.floats(0.05, 10), alpha=st.floats(0.1, 500), s=st.floats(0.05, 10), beta=st.floats(0.1, 500),
       x=st.integers(0, 400), frac=st.floats(0, 1), T=st.floats(1, 3000))
def test_closed_form_matches_quadrature(r: float, alpha: float, s: float, beta: float, x: int, frac: float,
                                        T: float) -> None:
    """The 2F1 likelihood and P(alive), in both the alpha >= beta and beta > alpha branches, equal integration."""
    p = _params(r, alpha, s, beta)
    t_x = frac * T if x else 0.0
    want_ll, want_odds = _log_pieces_by_quadrature(p, x, t_x, T)
    ll = paretonbd.log_likelihood_rows(r, alpha, s, beta, np.array([x]), np.array([t_x]), np.array([T]))[0]
    assert ll == pytest.approx(want_ll, rel=1e-7, abs=1e-7)
    assert paretonbd.p_alive(p, x, t_x, T)[0] == pytest.approx(expit(-want_odds), rel=1e-6, abs=1e-12)


def test_branches_agree_where_alpha_meets_beta() -> None:
    """The alpha >= beta and beta > alpha forms describe one function: no jump across alpha = beta."""
    x, t_x = np.array([0.0, 1.0, 7.0, 300.0]), np.array([0.0, 5.0, 30.0, 2000.0])
    T = np.array([39.0, 39.0, 39.0, 2100.0])
    lo = paretonbd.log_likelihood_rows(0.5, 10.0 * (1 - 1e-9), 0.6, 10.0, x, t_x, T)
    hi = paretonbd.log_likelihood_rows(0.5, 10.0 * (1 + 1e-9), 0.6, 10.0, x, t_x, T)
    assert np.allclose(lo, hi, rtol=1e-7)


def test_conditional_expectation_matches_posterior_integral() -> None:
    """E[Y(t)|...] = P(alive) * E[lambda] * E[(1 - exp(-mu t)) / mu], lambda, mu from their posteriors given alive."""
    p = _params()
    x, t_x, T, t = 4.0, 30.0, 38.86, 52.0
    shape, rate = p.s, p.beta + T

    def integrand(mu: float) -> float:
        log_dens = shape * np.log(rate) - gammaln(shape) + (shape - 1) * np.log(mu) - rate * mu
        return float(np.exp(log_dens) * -np.expm1(-mu * t) / mu)

    spend_alive = integrate.quad(integrand, 0, np.inf, limit=400, epsrel=1e-11)[0] * (p.r + x) / (p.alpha + T)
    want = paretonbd.p_alive(p, x, t_x, T)[0] * spend_alive
    assert paretonbd.conditional_expected_purchases(p, t, x, t_x, T)[0] == pytest.approx(want, rel=1e-7)


def test_new_customer_expectation_is_the_x0_limit() -> None:
    p = _params()
    t = np.array([1.0, 39.0, 78.0])
    assert np.allclose(paretonbd.expected_purchases_new_customer(p, t),
                       paretonbd.conditional_expected_purchases(p, t, 0, 0, 1e-9), rtol=1e-6)


def test_forecast_is_continuous_through_s_equal_one() -> None:
    vals = [paretonbd.conditional_expected_purchases(_params(s=s), 39, 3, 20, 39)[0] for s in (1 - 1e-6, 1.0, 1 + 1e-6)]
    assert np.all(np.isfinite(vals)) and vals[1] == pytest.approx(vals[0], rel=1e-5) == vals[2]


def test_parameter_recovery_from_simulation() -> None:
    """20,000 customers simulated from known parameters: each estimate lies within 3 standard errors."""
    rng = np.random.default_rng(19870101)
    truth = {"r": 0.6, "alpha": 8.0, "s": 0.8, "beta": 12.0}
    x, t_x, T = paretonbd.simulate(**truth, T=rng.uniform(30, 80, 20_000), rng=rng)
    f = paretonbd.fit(frequency=x, recency=t_x, T=T)
    assert f.converged
    for name, value in truth.items():
        est, se = getattr(f, name), getattr(f, f"{name}_se")
        assert abs(est - value) < 3 * se, (name, est, value, se)


def test_heavy_buyer_and_zero_mix_are_finite() -> None:
    """x = 300, t_x = 2000, T = 2100 and never-returning customers: finite, sensible numbers."""
    p = _params(0.8, 20.0, 0.7, 30.0)
    x = np.array([300.0, 300.0, 0.0, 0.0])
    t_x = np.array([2000.0, 2100.0, 0.0, 0.0])
    T = np.array([2100.0, 2100.0, 5.0, 2100.0])
    alive = paretonbd.p_alive(p, x, t_x, T)
    e = paretonbd.conditional_expected_purchases(p, 90.0, x, t_x, T)
    assert np.all(np.isfinite(alive)) and np.all((alive > 0) & (alive <= 1))
    assert alive[0] < alive[1] and alive[2] > alive[3]  # a long silence lowers P(alive)
    assert np.all(np.isfinite(e)) and np.all(e >= 0) and e[1] > e[0]


@hsettings(max_examples=200, deadline=None)
@given(r=st.floats(0.01, 50), alpha=st.floats(0.01, 1e4), s=st.floats(0.01, 50), beta=st.floats(0.01, 1e4),
       x=st.integers(0, 2000), frac=st.floats(0, 1), T=st.floats(0.5, 1e4), t=st.floats(0, 1e4))
def test_outputs_are_finite_over_wide_ranges(r: float, alpha: float, s: float, beta: float, x: int, frac: float,
                                             T: float, t: float) -> None:
    p = _params(r, alpha, s, beta)
    t_x = frac * T if x else 0.0
    alive = paretonbd.p_alive(p, x, t_x, T)
    e = paretonbd.conditional_expected_purchases(p, t, x, t_x, T)
    ll = paretonbd.log_likelihood_rows(r, alpha, s, beta, np.array([x]), np.array([t_x]), np.array([T]))
    assert np.all((alive >= 0) & (alive <= 1)) and np.all(np.isfinite(ll))
    assert np.all(np.isfinite(e)) and np.all(e >= 0)
    assert np.all(np.isfinite(paretonbd.expected_purchases_new_customer(p, t)))


def test_ten_repeat_buyers_raise_not_enough_data() -> None:
    x = np.r_[np.ones(10), np.zeros(500)]
    with pytest.raises(NotEnoughData, match=r"Pareto/NBD model: 10 customer\(s\) bought more than once, at least 20"):
        paretonbd.fit(frequency=x, recency=x * 3.0, T=np.full(x.size, 52.0))


def test_min_repeat_buyers_is_adjustable() -> None:
    """The threshold is a parameter: asking for 50 with 30 repeat buyers also falls back, naming both numbers."""
    rng = np.random.default_rng(3)
    x, t_x, T = paretonbd.simulate(0.6, 8.0, 0.8, 12.0, T=np.full(60, 40.0), rng=rng)
    n_repeat = int((x > 0).sum())
    with pytest.raises(NotEnoughData, match=f"{n_repeat} customer.*at least 500 are needed"):
        paretonbd.fit(frequency=x, recency=t_x, T=T, min_repeat_buyers=500)
