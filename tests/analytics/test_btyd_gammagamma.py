"""Gamma-Gamma spend and CLV: published CDNOW estimates, recovery, the independence check, CLV arithmetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ravingfans.analytics.btyd import BgNbdFit, GammaGammaFit, NotEnoughData, ParetoNbdFit, clv, gammagamma
from ravingfans.errors import ValidationFailed

DATA = Path(__file__).parent / "data"
BG = BgNbdFit(0.243, 4.414, 0.793, 2.426, 0, 0, 0, 0, 0.0, 0, True)  # FHL 2005 CDNOW estimates (weeks)
GG = GammaGammaFit(6.25, 3.74, 15.44, 0, 0, 0, 0.0, 0, True)


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    raw = pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return raw.rename({"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


def test_cdnow_matches_published_estimates(cdnow: pl.DataFrame) -> None:
    """Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", Journal of
    Marketing Research 42(4), 415-430: on the 946 CDNOW repeat buyers' mean spend, p = 6.25, q = 3.74,
    gamma = 15.44 (and a population mean spend p * gamma / (q - 1) of about $35)."""
    g = gammagamma.fit(cdnow)
    assert g.n_customers == 946
    for got, want in ((g.p, 6.25), (g.q, 3.74), (g.gamma, 15.44)):
        assert got == pytest.approx(want, abs=5e-3, rel=5e-3)
    assert g.converged and all(np.isfinite(v) and v > 0 for v in (g.p_se, g.q_se, g.gamma_se))
    assert g.population_mean_spend == pytest.approx(35.2, abs=0.1)


def test_cdnow_spend_is_roughly_independent_of_frequency(cdnow: pl.DataFrame) -> None:
    """FHL (2005, JMR) report a correlation of 0.11 between frequency and average spend for CDNOW."""
    check = gammagamma.independence_check(cdnow["frequency"], cdnow["monetary_value"])
    assert check.correlation == pytest.approx(0.11, abs=0.005)
    assert check.ok and check.n_repeat_buyers == 946 and "unrelated" in check.verdict


def test_dependent_spend_gets_a_plain_words_warning() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(1, 20, 500).astype(float)
    m = 10 + 3 * x + rng.normal(0, 2, 500)
    check = gammagamma.independence_check(x, m)
    assert check.correlation > 0.8 and not check.ok
    assert "spend more per order" in check.verdict and "caution" in check.verdict


def test_parameter_recovery_from_simulation() -> None:
    """Simulate per-customer nu ~ Gamma(q, gamma), x spends ~ Gamma(p, nu); estimates within 3 standard errors."""
    rng = np.random.default_rng(42)
    p, q, gamma, n = 4.0, 3.0, 20.0, 5000
    nu = rng.gamma(q, 1 / gamma, n)
    x = rng.integers(1, 15, n).astype(float)
    m = rng.gamma(p * x, 1 / nu) / x  # the mean of x Gamma(p, nu) spends
    g = gammagamma.fit(frequency=x, monetary_value=m)
    for name, value in (("p", p), ("q", q), ("gamma", gamma)):
        est, se = getattr(g, name), getattr(g, f"{name}_se")
        assert abs(est - value) < 3 * se, (name, est, value, se)


def test_expected_spend_shrinks_towards_population_mean() -> None:
    """E[Z | x, m_x] is a weighted mean of m_x and p*gamma/(q-1); weight on m_x grows with x."""
    pop = GG.population_mean_spend
    e = gammagamma.conditional_expected_average_spend(GG, [0, 1, 5, 50], [0, 100.0, 100.0, 100.0])
    assert e[0] == pytest.approx(pop)
    assert pop < e[1] < e[2] < e[3] < 100
    w = GG.p * 5 / (GG.p * 5 + GG.q - 1)
    assert e[2] == pytest.approx(w * 100 + (1 - w) * pop)


def test_clv_undiscounted_equals_forecast_times_spend() -> None:
    """With no discounting the monthly increments telescope: CLV = E[Y(12 months)] * E[spend] * margin."""
    x, t_x = np.array([0.0, 2.0, 10.0]), np.array([0.0, 30.43, 35.0])
    T, m = np.array([38.86] * 3), np.array([0.0, 22.35, 40.0])
    got = clv(BG, GG, x, t_x, T, m, horizon_months=12, margin=0.3, monthly_discount_rate=0.0, time_unit_days=7)
    weeks = 12 * (365.25 / 12) / 7
    want = BG.conditional_expected_purchases(weeks, x, t_x, T) * GG.conditional_expected_average_spend(x, m) * 0.3
    assert np.allclose(got, want, rtol=1e-12)


def test_clv_discounting_and_edges() -> None:
    """Discounting lowers CLV, margin scales it, a zero horizon is worth nothing, Pareto/NBD also plugs in."""
    args = (np.array([3.0]), np.array([20.0]), np.array([39.0]), np.array([30.0]))
    base = clv(BG, GG, *args, horizon_months=24, margin=1.0, monthly_discount_rate=0.01, time_unit_days=7)
    assert clv(BG, GG, *args, horizon_months=24, margin=1.0, monthly_discount_rate=0.05, time_unit_days=7) < base
    assert clv(BG, GG, *args, horizon_months=24, margin=0.25, monthly_discount_rate=0.01,
               time_unit_days=7) == pytest.approx(0.25 * base)
    assert clv(BG, GG, *args, horizon_months=0, margin=1.0, monthly_discount_rate=0.01, time_unit_days=7)[0] == 0
    # the same history in days instead of weeks is the same customer
    in_days = clv(BgNbdFit(0.243, 4.414 * 7, 0.793, 2.426, 0, 0, 0, 0, 0.0, 0, True), GG, args[0], args[1] * 7,
                  args[2] * 7, args[3], horizon_months=24, margin=1.0, monthly_discount_rate=0.01, time_unit_days=1)
    assert in_days == pytest.approx(base, rel=1e-9)
    pareto = ParetoNbdFit(0.553, 10.578, 0.606, 11.669, 0, 0, 0, 0, 0.0, 0, True)
    assert 0 < clv(pareto, GG, *args, horizon_months=24, margin=1.0, monthly_discount_rate=0.01, time_unit_days=7)[0]


@hsettings(max_examples=200, deadline=None)
@given(x=st.integers(0, 2000), frac=st.floats(0, 1), T=st.floats(0.5, 5000), m=st.floats(0.01, 1e5),
       months=st.integers(0, 60), rate=st.floats(0, 0.5))
def test_clv_is_finite_and_non_negative(x: int, frac: float, T: float, m: float, months: int, rate: float) -> None:
    t_x = frac * T if x else 0.0
    v = clv(BG, GG, x, t_x, T, m, horizon_months=months, margin=0.4, monthly_discount_rate=rate, time_unit_days=1)
    assert np.all(np.isfinite(v)) and np.all(v >= 0)


def test_heavy_buyer_clv_is_finite() -> None:
    v = clv(BG, GG, [300.0], [2000.0], [2100.0], [55.0], horizon_months=36, margin=0.3,
            monthly_discount_rate=0.01, time_unit_days=1)
    assert np.isfinite(v[0]) and v[0] > 0


def test_ten_repeat_buyers_raise_not_enough_data() -> None:
    x = np.r_[np.arange(1, 11, dtype=float), np.zeros(300)]
    m = np.r_[np.full(10, 25.0), np.zeros(300)]
    with pytest.raises(NotEnoughData, match=r"Gamma-Gamma spend model: 10 customer\(s\).*at least 20 are needed"):
        gammagamma.fit(frequency=x, monetary_value=m)


def test_non_positive_spend_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match="1 repeat buyer"):
        gammagamma.fit(frequency=[1.0, 2.0, 0.0], monetary_value=[10.0, 0.0, 0.0])


def test_heavy_tailed_fit_refuses_expected_spend() -> None:
    """q <= 1 means mean spend is infinite: say so instead of returning a negative or infinite number."""
    heavy = GammaGammaFit(2.0, 0.8, 10.0, 0, 0, 0, 0.0, 0, True)
    with pytest.raises(ValidationFailed, match="q = 0.8"):
        gammagamma.conditional_expected_average_spend(heavy, [1.0], [10.0])


def _alike_spenders(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean spend of ``n`` repeat buyers simulated from Gamma-Gamma with p = 1.6, q = 1900, gamma = 200,000: customers
    whose typical basket barely differs (as in the demo business), so the likelihood is flat to rounding at its
    optimum, with q and gamma beyond e^12."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 30, n).astype(float)
    nu = rng.gamma(1900.0, 1 / 2.0e5, n)
    return x, rng.gamma(1.6 * x, 1 / nu) / x


def _recording(monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[str, bool]], list[tuple[bool, bool]]]:
    """Each SciPy minimisation the fit runs (method, success as SciPy reported it) and each verdict on a stopped line
    search (reached, pinned); the real functions run, but every L-BFGS-B run is reported to the fit as a line search
    that gave up where it stopped ("ABNORMAL"), as it did on the full-size database.

    On these flat likelihoods, whether L-BFGS-B stops "abnormally" or reports success at the same optimum depends on
    floating-point details: the same NumPy and SciPy did one on one machine and the other on another (2026-12-03,
    seed 7). Giving up is the case the fit must judge, so the tests make it happen on every machine.
    """
    from ravingfans.analytics.btyd import fitting

    calls: list[tuple[str, bool]] = []
    verdicts: list[tuple[bool, bool]] = []
    minimize, flat_stop = fitting._minimize, fitting._flat_stop

    def recording_minimize(*args: object, **kwargs: object) -> object:
        result = minimize(*args, **kwargs)
        calls.append((str(kwargs["method"]), bool(result.success)))
        if kwargs["method"] == "L-BFGS-B":
            result.success, result.status = False, 2
            result.message = "ABNORMAL: the line search gave up here (the test's stand-in for rounding)"
        return result

    def recording_flat_stop(*args: object, **kwargs: object) -> tuple[bool, bool]:
        verdict = flat_stop(*args, **kwargs)
        verdicts.append(verdict)
        return verdict

    monkeypatch.setattr(fitting, "_minimize", recording_minimize)
    monkeypatch.setattr(fitting, "_flat_stop", recording_flat_stop)
    return calls, verdicts


def test_a_line_search_stopped_by_rounding_at_a_pinned_optimum_is_the_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """L-BFGS-B stops "abnormally" where the slope is rounding; the curvature pins the parameters down, so that is
    the optimum: reported as converged, no Nelder-Mead polish over the full likelihood (on 767,638 repeat buyers the
    polish ran 8,000 iterations, 27 minutes, and then the fit was refused), and it recovers the truth."""
    x, m = _alike_spenders(200_000, 6)
    calls, verdicts = _recording(monkeypatch)
    fit = gammagamma.fit(frequency=x, monetary_value=m)
    assert verdicts == [(True, True)] and all(method == "L-BFGS-B" for method, _ in calls), (verdicts, calls)
    assert fit.converged
    for got, se, truth in ((fit.p, fit.p_se, 1.6), (fit.q, fit.q_se, 1900.0), (fit.gamma, fit.gamma_se, 2.0e5)):
        assert abs(got - truth) < 3 * se, (got, se, truth)
    assert fit.population_mean_spend == pytest.approx(1.6 * 2.0e5 / 1899, rel=0.01)


def test_a_flat_stop_far_out_that_nothing_pins_is_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same kind of data, a sample where the likelihood has almost no curvature along q and gamma (beyond e^12):
    refused as before, without first polishing along the ridge."""
    x, m = _alike_spenders(200_000, 7)
    calls, verdicts = _recording(monkeypatch)
    with pytest.raises(NotEnoughData, match="run off to zero or infinity"):
        gammagamma.fit(frequency=x, monetary_value=m)
    assert verdicts == [(True, False)] and all(method == "L-BFGS-B" for method, _ in calls), (verdicts, calls)
