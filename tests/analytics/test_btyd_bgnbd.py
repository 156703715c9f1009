"""BG/NBD: published CDNOW estimates, parameter recovery, count weighting, stability and the small-data fallback."""

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
from scipy.special import betaln

from ravingfans.analytics.btyd import BgNbdFit, NotEnoughData, bgnbd
from ravingfans.errors import ValidationFailed

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    """The 2,357-customer CDNOW sample, compressed to distinct (frequency, recency, T) with a count."""
    raw = pl.read_csv(DATA / "cdnow_customers_summary.csv")
    return raw.group_by(["frequency", "recency", "T"]).agg(pl.len().alias("count"))


@pytest.fixture(scope="module")
def cdnow_fit(cdnow: pl.DataFrame) -> BgNbdFit:
    return bgnbd.fit(cdnow)


def _params(r: float = 0.243, alpha: float = 4.414, a: float = 0.793, b: float = 2.426) -> BgNbdFit:
    return BgNbdFit(r, alpha, a, b, 0, 0, 0, 0, 0.0, 0, True)


def test_cdnow_matches_published_estimates(cdnow_fit: BgNbdFit, cdnow: pl.DataFrame) -> None:
    """Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2), 275-284,
    section 4: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4 on the CDNOW sample (weeks)."""
    f = cdnow_fit
    for got, want in ((f.r, 0.243), (f.alpha, 4.414), (f.a, 0.793), (f.b, 2.426)):
        assert got == pytest.approx(want, abs=1e-3, rel=5e-3)
    assert f.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert f.converged
    assert f.n_customers == 2357 == int(cdnow["count"].sum())
    for se in (f.r_se, f.alpha_se, f.a_se, f.b_se):
        assert np.isfinite(se) and se > 0


def test_cdnow_conditional_expectation_worked_example(cdnow_fit: BgNbdFit) -> None:
    """FHL (2005), section 4: a customer with x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226
    purchases in the next 39 weeks (the paper's own worked example, ID 1 of the sample)."""
    got = bgnbd.conditional_expected_purchases(_params(), 39, 2, 30.43, 38.86)
    assert got[0] == pytest.approx(1.226, abs=1e-3)
    assert cdnow_fit.conditional_expected_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(1.226, abs=2e-3)


def test_new_customer_expectation_matches_limit_of_conditional() -> None:
    """E[X(t)] for a new customer equals the conditional forecast of someone with x = 0 observed for T -> 0."""
    p = _params()
    t = np.array([1.0, 13.0, 39.0, 78.0])
    assert np.allclose(bgnbd.expected_purchases_new_customer(p, t),
                       bgnbd.conditional_expected_purchases(p, t, 0, 0, 1e-9), rtol=1e-6)
    assert np.all(np.diff(bgnbd.expected_purchases_new_customer(p, t)) > 0)


def test_compressed_weights_equal_expanded_rows(cdnow: pl.DataFrame, cdnow_fit: BgNbdFit) -> None:
    """Fitting the expanded one-row-per-customer table gives the same optimum as the weighted compressed one."""
    expanded = cdnow.select(pl.all().repeat_by("count").explode()).drop("count")
    f = bgnbd.fit(frequency=expanded["frequency"].to_numpy(), recency=expanded["recency"].to_numpy(),
                  T=expanded["T"].to_numpy())
    assert f.log_likelihood == pytest.approx(cdnow_fit.log_likelihood, abs=1e-6)
    assert f.r == pytest.approx(cdnow_fit.r, rel=1e-4)


def test_parameter_recovery_from_simulation() -> None:
    """20,000 customers simulated from known parameters: each estimate lies within 3 standard errors."""
    rng = np.random.default_rng(20050401)
    truth = {"r": 0.4, "alpha": 6.0, "a": 0.9, "b": 3.0}
    x, t_x, T = bgnbd.simulate(**truth, T=rng.uniform(30, 80, 20_000), rng=rng)
    f = bgnbd.fit(frequency=x, recency=t_x, T=T)
    assert f.converged and f.n_customers == 20_000
    for name, value in truth.items():
        est, se = getattr(f, name), getattr(f, f"{name}_se")
        assert abs(est - value) < 3 * se, (name, est, value, se)


def test_simulator_matches_model_mean() -> None:
    """The simulator's mean repeat count by T agrees with E[X(T)] (checks the simulator the recovery test uses)."""
    rng = np.random.default_rng(7)
    p = _params(0.5, 5.0, 0.8, 2.5)
    x, _, _ = bgnbd.simulate(p.r, p.alpha, p.a, p.b, np.full(200_000, 40.0), rng)
    assert x.mean() == pytest.approx(float(bgnbd.expected_purchases_new_customer(p, 40.0)[0]), rel=0.02)


def _expected_by_quadrature(p: BgNbdFit, t: float, x: float, T: float) -> float:
    """E[Y(t) | alive] by direct integration: lambda ~ Gamma(r+x, alpha+T), p ~ Beta(a, b+x) a posteriori, and
    an alive customer with (lambda, p) makes (1 - (1 + p t / (alpha+T))^-(r+x)) / p purchases on average."""

    k, n = t / (p.alpha + T), p.r + x

    # substitute q = exp(-y): the Beta kernel and the sharp rise of the inner part both become gentle in y
    def integrand(y: float) -> float:
        q = np.exp(-y)
        log_kernel = -p.a * y + (p.b + x - 1) * np.log(-np.expm1(-y)) - betaln(p.a, p.b + x)
        return float(np.exp(log_kernel) * -np.expm1(-n * np.log1p(q * k)) / q)

    breaks = sorted({0.0, *(float(v) for v in np.log([k * n, k, (p.a + p.b + x) / p.a]) if v > 0), 700.0})
    return float(sum(integrate.quad(integrand, lo, hi, epsabs=0, epsrel=1e-12, limit=500)[0]
                     for lo, hi in pairwise(breaks)))


def test_heavy_buyer_is_finite_and_matches_quadrature() -> None:
    """x = 300 over 2,000 days with a 100-day gap: no overflow, and eq. (10) matches direct integration."""
    p = _params(0.8, 20.0, 0.7, 3.0)
    x, t_x, T, t = 300.0, 2000.0, 2100.0, 90.0
    alive = bgnbd.p_alive(p, x, t_x, T)[0]
    got = bgnbd.conditional_expected_purchases(p, t, x, t_x, T)[0]
    assert 0 < alive < 1 and np.isfinite(got)
    assert got == pytest.approx(alive * _expected_by_quadrature(p, t, x, T), rel=1e-6)


@hsettings(max_examples=60, deadline=None)
@given(r=st.floats(0.05, 5), alpha=st.floats(0.5, 200), a=st.floats(0.05, 5), b=st.floats(0.2, 20),
       x=st.integers(0, 400), T=st.floats(1, 3000), t=st.floats(0.5, 1000))
def test_closed_form_matches_quadrature(r: float, alpha: float, a: float, b: float, x: int, T: float,
                                        t: float) -> None:
    """Eq. (10) (through scipy's 2F1 and its fallbacks) equals direct integration across parameter space."""
    p = _params(r, alpha, a, b)
    got = bgnbd.conditional_expected_purchases(p, t, x, 0.9 * T if x else 0.0, T)[0]
    alive = bgnbd.p_alive(p, x, 0.9 * T if x else 0.0, T)[0]
    assert got == pytest.approx(alive * _expected_by_quadrature(p, t, x, T), rel=1e-5, abs=1e-12)


def test_all_zero_frequency_customers() -> None:
    """Customers who never came back are alive by construction and get a small positive forecast."""
    p = _params()
    zeros = np.zeros(5)
    ages = np.array([1.0, 10.0, 100.0, 1000.0, 5000.0])
    assert np.all(bgnbd.p_alive(p, zeros, zeros, ages) == 1.0)
    e = bgnbd.conditional_expected_purchases(p, 52.0, zeros, zeros, ages)
    assert np.all(np.isfinite(e)) and np.all(e > 0) and np.all(np.diff(e) < 0)


@hsettings(max_examples=200, deadline=None)
@given(
    r=st.floats(0.01, 50), alpha=st.floats(0.01, 1e4), a=st.floats(0.01, 50), b=st.floats(0.01, 50),
    x=st.integers(0, 2000), frac=st.floats(0, 1), T=st.floats(0.5, 1e4), t=st.floats(0, 1e4),
)
def test_outputs_are_finite_over_wide_ranges(r: float, alpha: float, a: float, b: float, x: int, frac: float,
                                             T: float, t: float) -> None:
    """P(alive) in [0, 1], forecasts finite and >= 0, likelihood finite, for any sane parameters and history."""
    p = _params(r, alpha, a, b)
    t_x = frac * T if x > 0 else 0.0
    alive = bgnbd.p_alive(p, x, t_x, T)
    e = bgnbd.conditional_expected_purchases(p, t, x, t_x, T)
    ll = bgnbd.log_likelihood_rows(r, alpha, a, b, np.array([x]), np.array([t_x]), np.array([T]))
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(np.isfinite(e)) and np.all(e >= 0)
    assert np.all(np.isfinite(ll))
    assert np.all(np.isfinite(bgnbd.expected_purchases_new_customer(p, t)))


def test_ten_repeat_buyers_raise_not_enough_data() -> None:
    """A shop with 10 repeat buyers gets a clear NotEnoughData naming 10 and the 20 needed, not numbers."""
    x = np.r_[np.ones(10), np.zeros(200)]
    with pytest.raises(NotEnoughData) as err:
        bgnbd.fit(frequency=x, recency=x * 5.0, T=np.full(x.size, 30.0))
    assert "10 customer(s) bought more than once" in str(err.value)
    assert "at least 20 are needed" in str(err.value)
    assert isinstance(err.value, ValidationFailed)


def test_all_zero_frequency_cannot_be_fitted() -> None:
    with pytest.raises(NotEnoughData, match="0 customer"):
        bgnbd.fit({"frequency": [0, 0], "recency": [0, 0], "T": [10, 20], "count": [500, 700]})


def test_recency_beyond_age_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match="recency exceeds T"):
        bgnbd.p_alive(_params(), [1, 2], [5.0, 40.0], [10.0, 30.0])


def test_forecast_is_continuous_through_a_equal_one() -> None:
    """Eq. (10) is 0/0 at a = 1; the value there sits between its neighbours, with no NaN."""
    x, t_x, T = np.array([0.0, 3.0, 40.0]), np.array([0.0, 20.0, 300.0]), np.array([39.0, 39.0, 400.0])
    at = [bgnbd.conditional_expected_purchases(_params(a=a), 39, x, t_x, T) for a in (0.999, 1.0, 1.001)]
    assert np.all(np.isfinite(at[1]))
    assert np.allclose(at[1], (at[0] + at[2]) / 2, rtol=1e-5)
    assert np.allclose(at[0], at[2], rtol=1e-2)


def test_degenerate_data_raise_not_enough_data() -> None:
    """Plenty of repeat buyers but everyone bought at the very end (no sign of dropping out): no interior
    maximum, so the fit falls back with a clear error instead of returning parameters near 0 or infinity."""
    x = np.random.default_rng(0).integers(1, 5, 300).astype(float)
    with pytest.raises(NotEnoughData, match="run off to zero or infinity"):
        bgnbd.fit(frequency=x, recency=np.full(300, 50.0), T=np.full(300, 50.0))


@given(a=st.floats(0.2, 3.0), b=st.floats(0.2, 5.0), r=st.floats(0.1, 3.0), alpha=st.floats(0.5, 50.0),
       unit=st.sampled_from([1.0, 7.0]))
@hsettings(max_examples=40, deadline=None)
def test_expected_purchases_by_horizon_equals_one_call_per_horizon(a: float, b: float, r: float, alpha: float,
                                                                   unit: float) -> None:
    """The batched form (2F1 once per distinct (x, T)) gives exactly what one call per horizon gives, in days
    and in weeks (fractional ages), with a brand-new customer's T of 1e-6 among them."""
    p = _params(r=r, alpha=alpha, a=a, b=b)
    rng = np.random.default_rng(3)
    T = rng.integers(1, 60, 300).astype(float) / unit
    x = rng.integers(0, 12, 300).astype(float)
    t_x = np.where(x > 0, np.floor(T * unit * rng.uniform(size=300)) / unit, 0.0)
    T[:5], x[:5], t_x[:5] = 1e-6, 0.0, 0.0  # as scoring passes a customer first seen on the last day
    horizons = [0.0, 4.35, 13.0, 52.0]
    batched = bgnbd.expected_purchases_by_horizon(p, horizons, x, t_x, T)
    assert batched.shape == (4, 300)
    for row, h in zip(batched, horizons, strict=True):
        assert np.array_equal(row, bgnbd.conditional_expected_purchases(p, h, x, t_x, T))
