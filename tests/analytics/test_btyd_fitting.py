"""The MLE driver's pilot: a large table is first fitted on a thinned sample, then finished on all of it.

The pilot only changes how the optimum is reached, never which: every test here holds the pilot's result to
the plain fit's, and the fallbacks (a pilot whose curvature misleads) to the same optimum.
"""

from __future__ import annotations

import numpy as np
import pytest

from ravingfans.analytics.btyd import bgnbd, fitting, gammagamma
from ravingfans.analytics.btyd.fitting import Pilot, maximise, thinned_counts

TRUTH = {"r": 0.5, "alpha": 20.0, "a": 0.7, "b": 2.5}


@pytest.fixture(scope="module")
def histories() -> fitting.Compressed:
    """About 6,000 customers' (x, t_x, T), compressed: some 5,000 distinct rows."""
    rng = np.random.default_rng(41)
    x, t_x, T = bgnbd.simulate(**TRUTH, T=rng.integers(30, 700, 6000).astype(float), rng=rng)
    return fitting.compressed(frequency=x, recency=t_x, T=T)


class _Counted:
    """A likelihood that counts its calls."""

    def __init__(self, inner: fitting.LogLikGrad) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self, params: fitting.FloatArray) -> tuple[float, fitting.FloatArray]:
        self.calls += 1
        return self.inner(params)


def _fit(c: fitting.Compressed, pilot: Pilot | None) -> tuple[fitting.MLEResult, int]:
    """BG/NBD through maximise with the given pilot; the result and the number of full-table calls."""
    full = _Counted(bgnbd._Likelihood(c))
    res = maximise(lambda p: full(p)[0], [1.0, 30.0, 1.0, 1.0], "BG/NBD", c.n_repeat_buyers,
                   log_lik_grad=full, pilot=pilot)
    return res, full.calls


def _same(a: fitting.MLEResult, b: fitting.MLEResult) -> None:
    np.testing.assert_allclose(a.params, b.params, rtol=1e-6)  # L-BFGS-B's own stop is about this precise
    np.testing.assert_allclose(a.stderr, b.stderr, rtol=1e-4)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-12)
    assert a.converged and b.converged


def _pilot_of(c: fitting.Compressed, rows: int, n_repeat_factor: float = 1.0) -> Pilot:
    count = thinned_counts(c.count, rows)
    assert count is not None
    keep = count > 0
    sample = fitting.Compressed(c.frequency[keep], c.recency[keep], c.T[keep], count[keep])
    return Pilot(bgnbd._Likelihood(sample), int(sample.n_repeat_buyers * n_repeat_factor))


def test_pilot_reaches_the_plain_optimum_with_fewer_full_calls(histories: fitting.Compressed) -> None:
    plain, plain_calls = _fit(histories, None)
    piloted, piloted_calls = _fit(histories, _pilot_of(histories, 1500))
    _same(piloted, plain)
    assert piloted_calls < plain_calls, (piloted_calls, plain_calls)


@pytest.mark.parametrize("factor", [1e-3, 50.0])
def test_a_misleading_pilot_falls_back_to_the_plain_fit(histories: fitting.Compressed, factor: float) -> None:
    """A pilot whose curvature is far off (its scale wrong by 1000x down or 50x up) makes steps that crawl
    or overshoot; the driver notices (no convergence, or a step that raises the objective) and fits afresh."""
    plain, plain_calls = _fit(histories, None)
    piloted, piloted_calls = _fit(histories, _pilot_of(histories, 1000, factor))
    _same(piloted, plain)
    assert piloted_calls > plain_calls  # the chord steps ran, then the plain fit


def test_model_fits_use_a_pilot_on_large_tables(monkeypatch: pytest.MonkeyPatch,
                                                histories: fitting.Compressed) -> None:
    """bgnbd.fit and gammagamma.fit thin a table of at least 4 x PILOT_ROWS rows; the estimates do not move."""
    rng = np.random.default_rng(43)
    x, t_x, T = (histories.frequency, histories.recency, histories.T)
    weights = histories.count
    m = np.where(x > 0, rng.gamma(6.0 * np.maximum(x, 1), 1 / rng.gamma(3.5, 1 / 15.0, x.size)) / np.maximum(x, 1), 0)
    plain_bg = bgnbd.fit(frequency=x, recency=t_x, T=T, count=weights)
    plain_gg = gammagamma.fit(frequency=x, monetary_value=m, count=weights)
    used: list[int] = []
    original = fitting._from_pilot

    def spy(pilot: Pilot, *args: object, **kwargs: object) -> object:
        used.append(pilot.n_repeat)
        return original(pilot, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fitting, "PILOT_ROWS", 500)
    monkeypatch.setattr(fitting, "_from_pilot", spy)
    piloted_bg = bgnbd.fit(frequency=x, recency=t_x, T=T, count=weights)
    piloted_gg = gammagamma.fit(frequency=x, monetary_value=m, count=weights)
    assert len(used) == 2 and all(0 < n < histories.n_repeat_buyers / 4 for n in used), used
    for name in ("r", "alpha", "a", "b", "r_se", "b_se", "log_likelihood"):
        assert getattr(piloted_bg, name) == pytest.approx(getattr(plain_bg, name), rel=1e-4 if "_se" in name else 1e-6)
    for name in ("p", "q", "gamma", "p_se", "log_likelihood"):
        assert getattr(piloted_gg, name) == pytest.approx(getattr(plain_gg, name), rel=1e-4 if "_se" in name else 1e-6)


def test_thinned_counts_are_a_fixed_binomial_sample() -> None:
    count = np.tile([1.0, 2.0, 40.0], 4000)
    a, b = thinned_counts(count, 1000), thinned_counts(count, 1000)
    assert a is not None and b is not None
    np.testing.assert_array_equal(a, b)  # the same table always gets the same pilot
    assert np.all((a >= 0) & (a <= count) & (a == np.floor(a)))
    share = a.sum() / count.sum()
    assert share == pytest.approx(1000 / count.size, rel=0.1)


@pytest.mark.parametrize(("count", "rows"), [(np.ones(3999), 1000), (np.full(8000, 1.5), 1000)])
def test_no_pilot_for_small_tables_or_fractional_counts(count: np.ndarray, rows: int) -> None:
    assert thinned_counts(count, rows) is None


def _pilot_objective(c: fitting.Compressed) -> tuple[Pilot, object]:
    pilot = _pilot_of(c, 1500)
    return pilot, fitting._scaled(pilot.log_lik_grad, pilot.n_repeat)


def test_newton_reaches_the_pilot_optimum_lbfgsb_finds(histories: fitting.Compressed) -> None:
    """The pilot's own Newton fit lands where SciPy's L-BFGS-B does, from the models' usual start."""
    from scipy.optimize import minimize

    _, objective = _pilot_objective(histories)
    z0 = np.log([1.0, 30.0, 1.0, 1.0])
    z = fitting._newton(objective, z0)  # type: ignore[arg-type]
    assert z is not None
    ref = minimize(objective, z0, method="L-BFGS-B", jac=True, options={"ftol": 1e-15, "gtol": 1e-11})
    np.testing.assert_allclose(z, ref.x, atol=1e-5)
    assert objective(z)[0] <= ref.fun + 1e-12  # type: ignore[operator]


def test_newton_gives_up_without_an_interior_minimum() -> None:
    """No minimum (the objective falls forever along one log-parameter) or no finite start: None, so the
    caller falls back to L-BFGS-B rather than trusting a point at the bound."""

    def falling(z: fitting.FloatArray) -> tuple[float, fitting.FloatArray]:
        return float(np.exp(-z[0]) + z[1] ** 2), np.array([-np.exp(-z[0]), 2 * z[1]])

    assert fitting._newton(falling, np.array([0.0, 1.0])) is None
    assert fitting._newton(lambda z: (1e300, np.zeros_like(z)), np.zeros(2)) is None


def test_newton_stops_where_rounding_hides_the_slope() -> None:
    """Near its optimum an objective of size ~4 cannot show a fall of 1e-16, while its gradient still asks for
    steps of ~3e-8: Newton must stop there, not wander until it gives up (a Gamma-Gamma pilot did, with NumPy
    2.4, and `analyze` then imported scipy.optimize for nothing)."""

    def noisy(z: fitting.FloatArray) -> tuple[float, fitting.FloatArray]:
        d = z - 1.0
        return 4.35 + float(d @ d), 2 * d + 3e-8 * np.where(d >= 0, 1.0, -1.0)

    z = fitting._newton(noisy, np.array([1.5, 0.7]))  # type: ignore[arg-type]
    assert z is not None and np.max(np.abs(z - 1.0)) < 1e-7


def test_a_pilot_newton_cannot_fit_falls_back_to_lbfgsb(monkeypatch: pytest.MonkeyPatch,
                                                        histories: fitting.Compressed) -> None:
    plain, _ = _fit(histories, None)
    monkeypatch.setattr(fitting, "_newton", lambda *args, **kwargs: None)
    piloted, _ = _fit(histories, _pilot_of(histories, 1500))
    _same(piloted, plain)


def test_a_large_tables_fit_needs_no_scipy_optimize() -> None:
    """scipy.optimize takes 0.2-0.35 s to import, a sixth of `analyze` on a million orders: the piloted BG/NBD
    and Gamma-Gamma fits must reach their optimum without loading it (a fresh interpreter tells)."""
    import subprocess
    import sys

    code = """
import sys
import numpy as np
from ravingfans.analytics.btyd import bgnbd, fitting, gammagamma
fitting.PILOT_ROWS = 500
rng = np.random.default_rng(41)
x, t_x, T = bgnbd.simulate(r=0.5, alpha=20.0, a=0.7, b=2.5, T=rng.integers(30, 700, 6000).astype(float), rng=rng)
m = np.where(x > 0, rng.gamma(6.0 * np.maximum(x, 1), 1 / rng.gamma(3.5, 1 / 15.0, x.size)) / np.maximum(x, 1), 0)
assert x.size >= 4 * fitting.PILOT_ROWS
bg = bgnbd.fit(frequency=x, recency=t_x, T=T)
gg = gammagamma.fit(frequency=x, monetary_value=m)
print(bg.r > 0 and gg.p > 0, "scipy.optimize" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"], out.stdout + out.stderr
