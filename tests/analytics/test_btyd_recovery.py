"""Parameter recovery and forecast checks on data simulated from known parameters.

The per-model files already check one large (20,000 customer) draw per model lands within 3 standard errors.
Here: several parameter regimes at a few thousand customers (within 3 SE *and* a relative tolerance, so a
huge standard error cannot pass vacuously), whether the standard errors are honest across replications,
recovery through the whole pipeline (a transaction ledger -> customer_summary -> compress -> fit), and the
calibration/holdout forecast of Fader, Hardie & Lee (2005, Marketing Science 24(2), section 4) on simulated
customers, where the forecast total must meet the realised one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from ravingfans.analytics.btyd import bgnbd, gammagamma, paretonbd
from ravingfans.analytics.holdout import holdout_check
from ravingfans.analytics.summary import compress, customer_summary

REL_TOL = 0.35
"""At a few thousand customers the loosest parameter (b, beta, gamma) is known to about +-10-15% (1 SE)."""
START = datetime(2021, 1, 1, tzinfo=UTC)


def _check(fit: object, truth: dict[str, float]) -> None:
    """Each true value within 3 standard errors and REL_TOL of its estimate."""
    for name, value in truth.items():
        est, se = getattr(fit, name), getattr(fit, f"{name}_se")
        assert np.isfinite(se) and se > 0, (name, se)
        assert abs(est - value) < 3 * se, (name, est, value, se)
        assert abs(est - value) < REL_TOL * value, (name, est, value)


BGNBD_CASES = [
    ({"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, 1),  # CDNOW-like (weeks)
    ({"r": 0.5, "alpha": 20.0, "a": 0.7, "b": 2.5}, 2),  # days, a buy every ~40 days
    ({"r": 2.0, "alpha": 60.0, "a": 0.3, "b": 4.0}, 3),  # regular buyers who rarely leave
    ({"r": 0.8, "alpha": 30.0, "a": 1.5, "b": 1.2}, 4),  # most leave early
]


@pytest.mark.parametrize(("truth", "seed"), BGNBD_CASES)
def test_bgnbd_recovers_parameters_across_regimes(truth: dict[str, float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, t_x, T = bgnbd.simulate(**truth, T=rng.integers(30, 400, 4000).astype(float), rng=rng)
    _check(bgnbd.fit(frequency=x, recency=t_x, T=T), truth)


PARETO_CASES = [
    ({"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}, 5),  # CDNOW estimates (weeks)
    ({"r": 0.5, "alpha": 20.0, "s": 0.7, "beta": 30.0}, 6),
    ({"r": 1.5, "alpha": 50.0, "s": 1.2, "beta": 300.0}, 7),
]


@pytest.mark.parametrize(("truth", "seed"), PARETO_CASES)
def test_paretonbd_recovers_parameters_across_regimes(truth: dict[str, float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, t_x, T = paretonbd.simulate(**truth, T=rng.integers(30, 400, 4000).astype(float), rng=rng)
    _check(paretonbd.fit(frequency=x, recency=t_x, T=T), truth)


def _spend(rng: np.random.Generator, x: np.ndarray, p: float, q: float, gamma: float) -> np.ndarray:
    """Mean of x Gamma(p, nu) spends per customer, nu ~ Gamma(q, gamma); 0 for customers with x = 0."""
    nu = rng.gamma(q, 1 / gamma, x.size)
    return np.where(x > 0, rng.gamma(p * np.maximum(x, 1), 1 / nu) / np.maximum(x, 1), 0.0)


@pytest.mark.parametrize(("truth", "seed"), [({"p": 6.0, "q": 3.5, "gamma": 15.0}, 8),
                                             ({"p": 1.5, "q": 8.0, "gamma": 300.0}, 9)])
def test_gammagamma_recovers_parameters_with_bgnbd_frequencies(truth: dict[str, float], seed: int) -> None:
    """Frequencies as a purchase model makes them (many 0s and 1s, a long tail), not uniform as in the unit test."""
    rng = np.random.default_rng(seed)
    x, _, _ = bgnbd.simulate(0.5, 20.0, 0.7, 2.5, T=rng.integers(30, 700, 6000).astype(float), rng=rng)
    m = _spend(rng, x, **truth)
    _check(gammagamma.fit(frequency=x, monetary_value=m), truth)


def test_standard_errors_are_honest_across_replications() -> None:
    """Across 12 independent draws, (estimate - truth) / SE behaves like a standard normal: the reported
    standard errors are neither far too small (z spread out) nor far too large (z squeezed to 0)."""
    truth = {"r": 0.5, "alpha": 20.0, "a": 0.7, "b": 2.5}
    spend = {"p": 6.0, "q": 3.5, "gamma": 15.0}
    z_bg: list[float] = []
    z_gg: list[float] = []
    for seed in range(100, 112):
        rng = np.random.default_rng(seed)
        x, t_x, T = bgnbd.simulate(**truth, T=rng.integers(30, 400, 2000).astype(float), rng=rng)
        f = bgnbd.fit(frequency=x, recency=t_x, T=T)
        z_bg += [(getattr(f, k) - v) / getattr(f, f"{k}_se") for k, v in truth.items()]
        g = gammagamma.fit(frequency=x, monetary_value=_spend(rng, x, **spend))
        z_gg += [(getattr(g, k) - v) / getattr(g, f"{k}_se") for k, v in spend.items()]
    for z in (np.array(z_bg), np.array(z_gg)):
        assert 0.5 < z.std() < 1.6, z
        assert abs(z.mean()) < 0.8, z
        assert np.mean(np.abs(z) < 2) > 0.8, z  # about 95% expected within 2 SE


def simulate_ledger(r: float, alpha: float, a: float, b: float, customers: int, join_days: float,
                    end_days: float, seed: int, spend: tuple[float, float, float] = (6.0, 3.5, 15.0)) -> pl.DataFrame:
    """A transaction ledger from the BG/NBD story (FHL 2005, section 2), in days: customers join uniformly in
    the first ``join_days`` with a purchase, then buy at Poisson rate lambda ~ Gamma(r, alpha) and drop out
    after each repeat purchase with probability p ~ Beta(a, b), until ``end_days``. Each purchase's amount is
    Gamma(p_s, nu), nu ~ Gamma(q, gamma) per customer (the Gamma-Gamma story)."""
    rng = np.random.default_rng(seed)
    lam, drop = rng.gamma(r, 1 / alpha, customers), rng.beta(a, b, customers)
    nu = rng.gamma(spend[1], 1 / spend[2], customers)
    ids: list[int] = []
    times: list[float] = []
    for c, t in enumerate(rng.uniform(0, join_days, customers)):
        ids.append(c)
        times.append(t)
        while (t := t + rng.exponential(1 / lam[c])) <= end_days:
            ids.append(c)
            times.append(t)
            if rng.random() < drop[c]:
                break
    owner = np.asarray(ids)
    amounts = rng.gamma(spend[0], 1 / nu[owner])
    stamps = [START + timedelta(days=float(t)) for t in times]
    return pl.DataFrame({"customer_id": owner, "timestamp": stamps, "amount": amounts},
                        schema={"customer_id": pl.Int64, "timestamp": pl.Datetime("us", "UTC"), "amount": pl.Float64})


def test_whole_pipeline_recovers_the_generating_parameters() -> None:
    """Ledger -> daily occasions -> summary -> compressed table -> fits: the truth comes back (with rates of a
    purchase every ~40 days, folding purchases into calendar days barely matters)."""
    truth = {"r": 0.8, "alpha": 30.0, "a": 0.8, "b": 3.0}
    spend = {"p": 6.0, "q": 3.5, "gamma": 15.0}
    ledger = simulate_ledger(**truth, customers=4000, join_days=365, end_days=730, seed=21,
                             spend=(spend["p"], spend["q"], spend["gamma"]))
    summary = customer_summary(ledger, observation_end=(START + timedelta(days=730)).date())
    assert summary.height == 4000
    _check(bgnbd.fit(compress(summary)), truth)
    _check(gammagamma.fit(summary.select("frequency", "monetary_value")), spend)


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_holdout_forecast_meets_what_simulated_customers_did(seed: int) -> None:
    """Calibrate on two years, forecast the next 26 weeks: the total is within 5% of what happened, the
    customers forecast to buy most do buy most, and spend is within 10%."""
    ledger = simulate_ledger(0.8, 40.0, 0.8, 3.0, customers=4000, join_days=365, end_days=730 + 182, seed=seed)
    end = date(2021, 1, 1) + timedelta(days=730 + 181)
    res = holdout_check(ledger, holdout="26w", observation_end=end)
    assert res.calibration_end == end - timedelta(weeks=26) and res.customers.height > 3900
    assert res.actual_purchases > 1000
    assert res.relative_error is not None and abs(res.relative_error) < 0.05, res.as_dict()["purchases"]
    top, bottom = res.deciles.row(0, named=True), res.deciles.row(-1, named=True)
    assert top["actual_total"] == pytest.approx(top["predicted_total"], rel=0.1)
    assert top["actual_mean"] > 10 * max(bottom["actual_mean"], 0.01)
    assert res.spend_relative_error is not None and abs(res.spend_relative_error) < 0.1
