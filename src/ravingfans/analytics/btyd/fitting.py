"""Shared plumbing for the buy-till-you-die models: input checks, the fallback error and the MLE driver.

NumPy only at import: SciPy's special functions and optimiser load where they are used, so that the
constants and :class:`NotEnoughData` cost nothing to import (see the package's docstring).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ravingfans.errors import ValidationFailed

FloatArray = NDArray[np.float64]

MIN_REPEAT_BUYERS = 20
"""Fewer repeat buyers than this and a fitted model says more about noise than about customers."""

DAYS_PER_MONTH = 365.25 / 12
"""The month the CLV sum steps over, in days (lifetimes uses 4.345 weeks or 30 days)."""

PILOT_ROWS = 10_000
"""A table of at least four times this many rows is first fitted on a thinned sample of about this many."""
_PILOT_SEED = 20_050_410  # fixed: the same table always gets the same pilot (the result does not depend on it)

_LOG_BOUND = 15.0  # log-parameters live in [-15, 15]: e^15 is ~3.3 million, far outside any sane fit
_FAR = 12.0  # beyond e^+-12 (163,000 or 1/163,000) a parameter with no positive-definite Hessian ran off
_SLOPE_LEFT = 1e-5  # per repeat buyer: no slope left, where the curvature cannot say how far off (_flat_stop)


class NotEnoughData(ValidationFailed):
    """Too few repeat buyers (or a degenerate optimum) to fit a model honestly; the caller falls back."""

    code = "not_enough_data"


@dataclass(frozen=True)
class Compressed:
    """The compressed RFM table as float arrays: distinct (x, t_x, T) rows with a customer count each."""

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    count: FloatArray

    @property
    def n_customers(self) -> int:
        """How many customers the rows stand for."""
        return int(round(float(self.count.sum())))

    @property
    def n_repeat_buyers(self) -> int:
        """How many customers bought again at least once (frequency > 0)."""
        return int(round(float(self.count[self.frequency > 0].sum())))


def _column(data: Any, name: str) -> Any:
    """One column from a Polars DataFrame, a mapping of arrays, or anything indexable by name."""
    if hasattr(data, "get_column"):
        return data.get_column(name).to_numpy() if name in data.columns else None
    if isinstance(data, Mapping):
        return data.get(name)
    try:
        return data[name]
    except (KeyError, IndexError, ValueError):
        return None


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    """A 1-D float array from user input; non-finite values are a validation error, not a NaN later."""
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise ValidationFailed(f"{name} must be one-dimensional, got shape {arr.shape}", field=name)
    if not np.all(np.isfinite(arr)):
        raise ValidationFailed(f"{name} contains missing or infinite values", field=name)
    return arr


def check_rfm(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated, broadcast (x, t_x, T) arrays with the lifetimes conventions (0 <= t_x <= T, x >= 0)."""
    x, t_x, age = (as_float_array(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T")))
    x, t_x, age = np.broadcast_arrays(x, t_x, age)
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValidationFailed("frequency must be a whole number of repeat purchases, 0 or more", field="frequency")
    if np.any(t_x < 0) or np.any(age <= 0):
        raise ValidationFailed("recency must be >= 0 and T (customer age) > 0", field="recency")
    if np.any(t_x > age * (1 + 1e-9)):
        bad = int(np.sum(t_x > age * (1 + 1e-9)))
        raise ValidationFailed(f"recency exceeds T (customer age) on {bad} row(s)", field="recency")
    return x.astype(np.float64), np.minimum(t_x, age).astype(np.float64), age.astype(np.float64)


def compressed(data: Any = None, *, frequency: ArrayLike | None = None, recency: ArrayLike | None = None,
               T: ArrayLike | None = None, count: ArrayLike | None = None) -> Compressed:
    """Read the compressed table from a DataFrame/mapping (columns frequency, recency, T, count) or arrays."""
    if data is not None:
        frequency, recency, T = (_column(data, n) for n in ("frequency", "recency", "T"))
        count = _column(data, "count") if count is None else count
    if frequency is None or recency is None or T is None:
        raise ValidationFailed("need frequency, recency and T columns", field="frequency")
    x, t_x, age = check_rfm(frequency, recency, T)
    w = np.ones_like(x) if count is None else np.broadcast_to(as_float_array(count, "count"), x.shape).copy()
    if np.any(w < 0):
        raise ValidationFailed("count must be 0 or more", field="count")
    keep = w > 0
    return Compressed(x[keep], t_x[keep], age[keep], w[keep])


def require_repeat_buyers(n_repeat: int, model: str, needed: int = MIN_REPEAT_BUYERS) -> None:
    """Raise NotEnoughData unless there are at least ``needed`` repeat buyers to learn from."""
    if n_repeat < needed:
        raise NotEnoughData(
            f"Not enough repeat buyers to fit {model}: {n_repeat} customer(s) bought more than once, "
            f"at least {needed} are needed.",
            field="frequency",
            hint="Use the simple recency/frequency summaries until more customers have come back.",
        )


@dataclass(frozen=True)
class MLEResult:
    """A maximum-likelihood optimum: parameters, their standard errors and whether to trust them."""

    params: FloatArray
    stderr: FloatArray
    log_likelihood: float
    converged: bool


def _hessian(f: Callable[[FloatArray], float], z: FloatArray, step: float = 1e-4) -> FloatArray:
    """Finite-difference Hessian of f at z in 1 + 2n + n(n-1)/2 calls: central on the diagonal, forward
    corners off it (O(step) there, ample for standard errors; f may be a costly 2F1 likelihood)."""
    n = z.size
    h = np.zeros((n, n))
    e = np.eye(n) * step
    f0 = f(z)
    up = [f(z + e[i]) for i in range(n)]
    for i in range(n):
        h[i, i] = (up[i] - 2 * f0 + f(z - e[i])) / step**2
        for j in range(i + 1, n):
            h[i, j] = h[j, i] = (f(z + e[i] + e[j]) - up[i] - up[j] + f0) / step**2
    return h


def _hessian_from_gradient(g: Callable[[FloatArray], FloatArray], z: FloatArray, step: float = 1e-6,
                           g0: FloatArray | None = None) -> FloatArray:
    """Forward differences of an analytic gradient, symmetrised: n + 1 gradient calls (n when the gradient at z,
    ``g0``, is known), accurate to about step relative, ample for standard errors (each call costs as much as a
    likelihood step of the fit)."""
    n = z.size
    g0 = g(z) if g0 is None else g0
    h = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = step
        h[i] = (g(z + e) - g0) / step
    return (h + h.T) / 2


LogLikGrad = Callable[[FloatArray], tuple[float, FloatArray]]
"""Total log-likelihood and its gradient with respect to the (positive) parameters."""


@dataclass(frozen=True)
class Pilot:
    """The same model's likelihood on a thinned sample of the customers: a cheap first fit for a large table."""

    log_lik_grad: LogLikGrad
    n_repeat: int


def thinned_counts(count: FloatArray, rows: int | None = None) -> FloatArray | None:
    """Each row's customer count thinned binomially (fixed seed) to a sample of about ``rows`` rows, or None
    when the table has fewer than four times that many rows or its counts are not whole numbers."""
    rows = PILOT_ROWS if rows is None else rows
    if count.size < 4 * rows or np.any(count != np.floor(count)):
        return None
    rng = np.random.default_rng(_PILOT_SEED)
    return rng.binomial(count.astype(np.int64), rows / count.size).astype(np.float64)


def _scaled(log_lik_grad: LogLikGrad, scale: float) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    """-log-likelihood / scale and its gradient in z = log(parameters); (1e300, 0) where it is not finite."""

    def objective_grad(z: FloatArray) -> tuple[float, FloatArray]:
        theta = np.exp(z)
        with np.errstate(all="ignore"):  # trial points far out may overflow; they just score as terrible
            value, grad = log_lik_grad(theta)
        gz = -np.asarray(grad, dtype=np.float64) * theta / scale  # chain rule: d/dz = theta * d/dtheta
        if not (np.isfinite(value) and np.all(np.isfinite(gz))):
            return 1e300, np.zeros_like(z)
        return -float(value) / scale, gz

    return objective_grad


_LBFGSB = {"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9}


def _minimize(*args: Any, **kwargs: Any) -> Any:
    """SciPy's ``minimize``, imported on first use: ``scipy.optimize`` takes 0.2-0.35 s to import (a sixth of
    ``analyze`` on 1,000,000 orders), and a large table's fit now reaches its optimum without it."""
    from scipy.optimize import minimize

    return minimize(*args, **kwargs)


def _newton(objective_grad: Callable[[FloatArray], tuple[float, FloatArray]], z0: FloatArray,
            max_steps: int = 100, tol: float = 1e-8) -> FloatArray | None:
    """The minimum of a smooth objective in a few log-parameters by damped Newton steps, or None if none found.

    Hand-written rather than SciPy's because it serves only the pilot fit of a large table, where importing
    ``scipy.optimize`` would cost more than the whole fit (see ``_minimize``); on any trouble it answers None
    and the caller falls back to L-BFGS-B. Each step takes the curvature from differences of the analytic
    gradient (n + 1 calls), adds the smallest multiple of the identity that makes it positive definite,
    caps the step at 2 in every log-parameter and halves it until the objective falls (Armijo). It stops when
    an undamped full step moves no log-parameter by more than ``tol``, or when the objective stops falling
    within 1e-5 of that (its last digits are noise there; the caller's steps on the full table go on from it).
    """
    z = np.asarray(z0, dtype=np.float64)
    value, grad = objective_grad(z)
    if not value < 1e300:
        return None
    eye = np.eye(z.size)
    for _ in range(max_steps):
        hess = _hessian_from_gradient(lambda zz: objective_grad(zz)[1], z, g0=grad)
        if not np.all(np.isfinite(hess)):
            return None
        shift = 0.0
        for _attempt in range(40):  # Levenberg's shift: 0, then 1e-8 * scale, growing tenfold
            try:
                chol = np.linalg.cholesky(hess + shift * eye)
                break
            except np.linalg.LinAlgError:
                shift = max(shift * 10.0, 1e-8 * max(1.0, float(np.max(np.abs(np.diag(hess))))))
        else:
            return None
        step = np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
        if shift == 0.0 and np.max(np.abs(step)) < tol:
            return z
        step *= min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))
        slope = float(grad @ step)
        t = 1.0
        for _halving in range(40):
            z_next = np.clip(z - t * step, -_LOG_BOUND, _LOG_BOUND)
            value_next, grad_next = objective_grad(z_next)
            if value_next <= value - 1e-4 * t * slope:
                break
            t /= 2.0
        else:
            return z if np.max(np.abs(step)) < 1e-5 else None
        if not value_next < value and np.max(np.abs(t * step)) < 1e-5:
            # Accepted without falling: the objective's rounding noise hides its slope here, so the steps would
            # only wander (or stand still) until max_steps. Seen on a Gamma-Gamma pilot with NumPy 2.4.
            return z
        z, value, grad = z_next, value_next, grad_next
    return None


def _from_pilot(pilot: Pilot, objective_grad: Callable[[FloatArray], tuple[float, FloatArray]], z0: FloatArray,
                bounds: list[tuple[float, float]], max_steps: int = 20,
                tol: float = 1e-8) -> tuple[FloatArray, float, FloatArray] | None:
    """The full optimum reached from the pilot's: (z, objective, gradient) there, or None to fit from scratch.

    The pilot is fitted first (by :func:`_newton`; by L-BFGS-B where that gives up); its Hessian (about the full
    one's, in the per-repeat-buyer scaling both objectives share) then drives Newton steps on the full objective
    with that curvature held fixed (the chord method), until a step moves no log-parameter by more than ``tol``.
    Each step costs one full gradient call, and about six reach the optimum on 1,000,000 customers, where
    L-BFGS-B, even started at the pilot's optimum, rebuilds its curvature from scratch and needs 13 or more
    (SciPy offers no Newton iteration with a given Hessian). A step that does not lower the objective, or no
    convergence in ``max_steps``, hands over to L-BFGS-B from the start.
    """
    small = _scaled(pilot.log_lik_grad, max(pilot.n_repeat, 1))
    start = _newton(small, z0)
    if start is None:
        res = _minimize(small, z0, method="L-BFGS-B", jac=True, bounds=bounds, options=_LBFGSB)
        # only a start: an "abnormal" line-search stop at the pilot's own optimum is fine, a runaway is not
        if not res.fun < 1e300:
            return None
        start = np.asarray(res.x, dtype=np.float64)
    if np.any(np.abs(start) >= _FAR):
        return None
    hess = _hessian_from_gradient(lambda zz: small(zz)[1], start)
    try:
        inverse = np.linalg.inv(np.linalg.cholesky(hess)).T  # fails unless positive definite
    except np.linalg.LinAlgError:
        return None
    inverse = inverse @ inverse.T
    z = start
    value, grad = objective_grad(z)
    for _ in range(max_steps):
        step = inverse @ grad
        z_next = np.clip(z - step, -_LOG_BOUND, _LOG_BOUND)
        value_next, grad_next = objective_grad(z_next)
        if not value_next <= value + 1e-12 * abs(value):  # also refuses a NaN or the 1e300 of an overflow
            return None
        z, value, grad = z_next, value_next, grad_next
        if np.max(np.abs(step)) < tol:
            return z, value, grad
    return None


def _flat_stop(objective_grad: Callable[[FloatArray], tuple[float, FloatArray]], z: FloatArray,
               scale: float) -> tuple[bool, bool]:
    """Where L-BFGS-B's line search gave up: (the optimum is reached, the curvature pins every parameter down).

    On a large table the objective is flat to rounding at its optimum, so the line search can fail there with the
    optimum found. Reached means the Newton step still to go is under a tenth of a standard error in every
    log-parameter (where the curvature is not positive definite: no slope left, at most ``_SLOPE_LEFT`` a repeat
    buyer); pinned means each parameter is known within a factor of e at one standard error. A ridge running off
    to infinity is flat too, but with almost no curvature along it.
    """
    value, grad = objective_grad(z)
    if not value < 1e300:
        return False, False
    slope = grad * scale  # of -LL, in z
    hess = _hessian_from_gradient(lambda zz: objective_grad(zz)[1] * scale, z, g0=slope)
    unmeasured = bool(np.max(np.abs(grad)) <= _SLOPE_LEFT), False  # the curvature cannot say how far off
    try:
        np.linalg.cholesky(hess)  # fails unless positive definite
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return unmeasured
    se = np.sqrt(np.diag(cov))
    if not np.all(np.isfinite(se)):
        return unmeasured
    reached = bool(np.all(np.abs(cov @ slope) <= 0.1 * se))
    return reached, bool(np.all(se < 1.0))


def maximise(log_lik: Callable[[FloatArray], float], x0: Sequence[float], model: str, n_repeat: int,
             log_lik_grad: LogLikGrad | None = None, differences: str = "3-point",
             pilot: Pilot | None = None) -> MLEResult:
    """Maximise a total log-likelihood over positive parameters (optimised on their logs); SEs by delta method.

    With ``log_lik_grad`` (value and analytic gradient) L-BFGS-B takes exact gradients, which is what makes
    a fit on a million customers take milliseconds per step instead of 2n + 1 likelihood calls, and the
    Hessian for the standard errors is a central difference of that gradient. Without it the gradient is
    taken by ``differences`` ("3-point" or, for a costly likelihood, "2-point"). With a ``pilot`` (and
    ``log_lik_grad``) the fit starts from the pilot's optimum and curvature, which halves the full calls.
    """
    scale = max(n_repeat, 1)

    def objective(z: FloatArray) -> float:
        with np.errstate(all="ignore"):  # trial points far out may overflow; they just score as terrible
            value = -log_lik(np.exp(z)) / scale
        return float(value) if np.isfinite(value) else 1e300

    objective_grad = _scaled(log_lik_grad, scale) if log_lik_grad is not None else None
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    z0 = np.log(np.asarray(x0, dtype=np.float64))
    reached = None
    if pilot is not None and objective_grad is not None:
        reached = _from_pilot(pilot, objective_grad, z0, bounds)
    if reached is not None:
        z, value, grad = reached
        converged = True
    else:
        fun: Any = objective_grad if objective_grad is not None else objective
        jac: Any = True if objective_grad is not None else differences
        res = _minimize(fun, z0, method="L-BFGS-B", jac=jac, bounds=bounds, options=_LBFGSB)
        flat, pinned = (_flat_stop(objective_grad, res.x, scale) if not res.success and objective_grad is not None
                        else (False, False))
        settled = flat and pinned  # the optimum, found and pinned: the "abnormal" stop was rounding
        # Polishing a flat stop by Nelder-Mead gained nothing and cost up to 8,000 iterations over the full
        # likelihood (27 minutes on 767,638 repeat buyers, bench/RESULTS.md #3); nor is it tried on a flat ridge
        # already far out, which the check below refuses either way.
        ran_off = flat and not pinned and bool(np.any(np.abs(res.x) >= _FAR))
        if not res.success and not settled and not ran_off:  # polish with a derivative-free pass, then once more
            res2 = _minimize(objective, res.x, method="Nelder-Mead", bounds=bounds,
                             options={"maxiter": 8000, "xatol": 1e-9, "fatol": 1e-13})
            res3 = _minimize(fun, np.clip(res2.x, -_LOG_BOUND, _LOG_BOUND), method="L-BFGS-B",
                             jac=jac, bounds=bounds, options=_LBFGSB)
            res = min((res, res2, res3), key=lambda r: r.fun)
        z = np.asarray(res.x, dtype=np.float64)
        converged = bool(res.success) or settled
        if objective_grad is not None:
            value, grad = objective_grad(z)
        else:
            value, grad = objective(z), None
    # the objective is -LL / scale, and 1e300 where the likelihood is not finite
    ll = -value * scale if value < 1e300 else float("nan")
    g0 = None if grad is None else grad * scale
    hess = np.full((z.size, z.size), np.nan)
    if np.isfinite(ll):
        if objective_grad is not None:
            hess = _hessian_from_gradient(lambda zz: objective_grad(zz)[1] * scale, z, g0=g0)  # of -LL in z
        else:
            hess = _hessian(lambda zz: -float(log_lik(np.exp(zz))), z)
    try:
        cov = np.linalg.inv(hess)
        var = np.diag(cov)
        if not np.all(np.isfinite(var)) or np.any(var <= 0) or np.any(np.linalg.eigvalsh(hess) <= 0):
            raise np.linalg.LinAlgError("Hessian not positive definite")
        stderr = np.exp(z) * np.sqrt(var)  # delta method: d exp(z) / dz = exp(z)
    except (np.linalg.LinAlgError, ValueError):
        stderr = np.full(z.size, np.nan)
        converged = False
    # no interior maximum: at the bound, or (with exact gradients, which stop on a flat ridge before the
    # bound) far out where the likelihood has no curvature left
    far_out = np.any(np.abs(z) >= _LOG_BOUND - 1e-3) or (not converged and np.any(np.abs(z) >= _FAR))
    if not np.isfinite(ll) or far_out:
        raise NotEnoughData(
            f"{model} could not be fitted to these {n_repeat} repeat buyer(s): its best estimates run off to "
            "zero or infinity (for example when nobody seems to drop out), so its numbers would mean nothing.",
            field="frequency",
            hint="The data do not pin the model down; use the simple recency/frequency summaries.",
        )
    return MLEResult(params=np.exp(z), stderr=stderr, log_likelihood=ll, converged=converged)


def wsum(weights: FloatArray, values: FloatArray) -> float:
    """sum(weights * values) without BLAS: np.dot hands long vectors to a threaded BLAS, which can stall
    for many milliseconds on a busy two-core machine, while one multiply and one sum never do."""
    return float(np.multiply(weights, values).sum())


def log_diff_exp(a: FloatArray, b: FloatArray) -> FloatArray:
    """log(exp(a) - exp(b)) for a >= b, without overflow; -inf where they are equal."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.minimum(b - a, 0.0)
        return np.where(d == 0.0, -np.inf, a + np.log(-np.expm1(d)))


def hyp2f1_robust(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    """2F1(a, b; c; z) for 0 <= z < 1; where scipy's hyp2f1 gives NaN/inf at a near-degenerate point it falls
    back to the Euler and Pfaff transformations, then to a symmetric nudge of c."""
    from scipy.special import hyp2f1

    a, b, c, z = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(a, b, c, z))
    w = z / (z - 1)
    candidates = (
        lambda: hyp2f1(a, b, c, z),
        lambda: (1 - z) ** (c - a - b) * hyp2f1(c - a, c - b, c, z),
        lambda: (1 - z) ** -b * hyp2f1(c - a, b, c, w),
        lambda: (1 - z) ** -a * hyp2f1(a, c - b, c, w),
        # scipy returns inf at some integer (a, b, c) with z > 0.9 (e.g. 2F1(1, 1; 101; 0.905)); a symmetric
        # nudge of c is exact to O(1e-12) because F is smooth in c there
        lambda: 0.5 * (hyp2f1(a, b, c * (1 + 1e-6), z) + hyp2f1(a, b, c * (1 - 1e-6), z)),
    )
    return _first_finite(candidates, a.shape)


def _first_finite(candidates: tuple[Callable[[], FloatArray], ...], shape: tuple[int, ...]) -> FloatArray:
    """Per element, the first candidate form that gives a finite value (later forms are only computed
    while some element is still missing)."""
    out = np.full(shape, np.nan)
    with np.errstate(all="ignore"):
        for candidate in candidates:
            bad = ~np.isfinite(out)
            if not bad.any():
                break
            out = np.where(bad, candidate(), out)
    return out


def log_hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    """log 2F1(a, b; c; z) for 0 <= z < 1 where the function is positive, trying the same forms as
    hyp2f1_robust but in log space, so that a 2F1 beyond 1e308 (e.g. 2F1(1026, 1025; 1027; 0.5)) is fine."""
    from scipy.special import hyp2f1

    a, b, c, z = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(a, b, c, z))
    w = z / (z - 1)
    l1z = np.log1p(-z)
    candidates = (
        lambda: np.log(hyp2f1(a, b, c, z)),
        lambda: (c - a - b) * l1z + np.log(hyp2f1(c - a, c - b, c, z)),
        lambda: -b * l1z + np.log(hyp2f1(c - a, b, c, w)),
        lambda: -a * l1z + np.log(hyp2f1(a, c - b, c, w)),
        lambda: (c - a - b) * l1z + np.log(0.5 * (hyp2f1(c - a, c - b, c * (1 + 1e-6), z)
                                                + hyp2f1(c - a, c - b, c * (1 - 1e-6), z))),
    )
    return _first_finite(candidates, a.shape)
