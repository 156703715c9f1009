"""Did the gift work? A campaign's lift over its random hold-out group, with 95% intervals, and the split itself.

A campaign's audience is split at random into a treated group (who get the gift) and a hold-out group
(who do not). Because the split is random, the hold-out shows what the treated customers would have
done without the gift, and the difference between the groups is the gift's effect (the lift).
Nothing here touches the database: the service hands in plain arrays, one value per customer.

Two outcomes are compared over the campaign's window:

- the **return rate**, the share of customers with at least one purchase. The difference of two
  proportions gets Newcombe's hybrid score interval (his method 10), built from the Wilson score
  interval of each proportion: R. G. Newcombe (1998), "Interval estimation for the difference between
  independent proportions: comparison of eleven methods", Statistics in Medicine 17(8), 873-890;
  E. B. Wilson (1927), "Probable inference, the law of succession, and statistical inference", JASA
  22(158), 209-212. Unlike the textbook Wald interval it stays inside [-1, 1] and keeps close to its
  nominal coverage for small groups and rates near 0 or 1.
- the **revenue per customer** (customers who bought nothing count as 0), whose difference of means gets
  Welch's t interval with the Welch-Satterthwaite degrees of freedom: B. L. Welch (1947), "The
  generalization of 'Student's' problem when several different population variances are involved",
  Biometrika 34(1-2), 28-35. Revenue is skewed (most spend nothing, a few spend a lot), so the interval
  leans on the central limit theorem and wants groups of some size: below ``min_group`` customers in
  either group the verdict is "not enough customers to tell".

The incremental revenue is the revenue difference per customer times the number treated (the revenue
the gift brought that would not have come anyway), with the interval scaled the same way.

The split (:func:`split_holdout`) is reproducible: each customer's place comes from a keyed BLAKE2b hash
of their id under the campaign's seed, so the same seed and the same audience always give the same
groups, in any order, and the hold-out is exactly ``round(share * audience)`` customers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ravingfans.errors import ValidationFailed

Verdict = Literal["lift", "harm", "no_effect", "too_few", "no_holdout", "empty"]
CONFIDENCE = 0.95
MIN_GROUP = 30
"""Fewest customers in each group before a verdict is given (below it: "not enough customers to tell")."""
MAX_WIDTH = 0.20
"""An interval covering 0 and wider than this (20 per 100) says "not enough customers to tell", not "no effect"."""
MINUS = "\u2212"


@dataclass(frozen=True, slots=True)
class Interval:
    """An estimate and its confidence interval."""

    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the whole interval lies on one side of zero."""
        return self.low > 0 or self.high < 0

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (ends included)."""
        return self.low <= value <= self.high

    def scaled(self, factor: float) -> Interval:
        """The same interval multiplied by a positive ``factor``."""
        return Interval(self.estimate * factor, self.low * factor, self.high * factor)


@dataclass(frozen=True, slots=True)
class GroupOutcome:
    """What one group did in the window: how many, how many bought, and their revenue."""

    customers: int
    returned: int
    revenue: float
    revenue_sd: float | None

    @property
    def rate(self) -> float | None:
        """The share who bought at least once (None for an empty group)."""
        return self.returned / self.customers if self.customers else None

    @property
    def revenue_per_customer(self) -> float | None:
        """Mean revenue per customer, zeros included (None for an empty group)."""
        return self.revenue / self.customers if self.customers else None


@dataclass(frozen=True, slots=True)
class LiftEstimate:
    """Treated against hold-out: both groups, the differences with their intervals, and the verdict in words."""

    treated: GroupOutcome
    holdout: GroupOutcome
    return_rate: Interval | None  # treated minus hold-out, as a share (0.14 = 14 more per 100)
    revenue_per_customer: Interval | None  # treated minus hold-out, money per customer
    incremental_revenue: Interval | None  # the per-customer difference times the number treated
    verdict: Verdict
    headline: str
    confidence: float = CONFIDENCE


# --- intervals --------------------------------------------------------------------------------------------------


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValidationFailed(f"confidence: {confidence} must lie strictly between 0 and 1", field="confidence")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's (1927) score interval for a proportion ``successes / n`` (n >= 1)."""
    if n < 1 or not 0 <= successes <= n:
        raise ValidationFailed(f"a proportion needs 0 <= successes <= n and n >= 1 (got {successes}/{n})", field="n")
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE) -> Interval:
    """Newcombe's (1998) hybrid score interval (method 10) for p1 - p2, from each proportion's Wilson interval."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(d, max(-1.0, low), min(1.0, high))


def welch_difference(a: ArrayLike, b: ArrayLike, confidence: float = CONFIDENCE) -> Interval | None:
    """Welch's (1947) t interval for mean(a) - mean(b); None when a group has fewer than two values."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size < 2 or y.size < 2:
        return None
    _z(confidence)
    diff = float(x.mean() - y.mean())
    vx, vy = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
    se = math.sqrt(vx + vy)
    if se == 0:
        return Interval(diff, diff, diff)
    df = (vx + vy) ** 2 / (vx * vx / (x.size - 1) + vy * vy / (y.size - 1))
    t = float(stats.t.ppf(0.5 + confidence / 2, df))
    return Interval(diff, diff - t * se, diff + t * se)


# --- the split --------------------------------------------------------------------------------------------------


def _place(seed: int, customer_id: int) -> bytes:
    return hashlib.blake2b(str(customer_id).encode("ascii"), digest_size=16,
                           key=str(seed).encode("ascii")).digest()


def holdout_size(audience: int, share: float) -> int:
    """How many of ``audience`` customers are held out: ``share`` of them, rounded half up."""
    if not 0 <= share < 1:
        raise ValidationFailed(f"Hold-out share: {share} must be at least 0 and below 1", field="holdout_share")
    return int(math.floor(audience * share + 0.5))


def split_holdout(customer_ids: Iterable[int], share: float, seed: int) -> tuple[list[int], list[int]]:
    """(treated, hold-out), each sorted: a reproducible random split of the distinct ``customer_ids``.

    Customers are ordered by a keyed hash of their id under ``seed`` and the first ``holdout_size``
    are held out, so the same seed and the same set of customers always give the same split.
    """
    ids = sorted(set(customer_ids))
    count = holdout_size(len(ids), share)
    ordered = sorted(ids, key=lambda cid: (_place(seed, cid), cid))
    return sorted(ordered[count:]), sorted(ordered[:count])


# --- the estimate -----------------------------------------------------------------------------------------------


def _group(returned: ArrayLike, revenue: ArrayLike, name: str) -> tuple[GroupOutcome, np.ndarray]:
    flags = np.asarray(returned, dtype=bool).ravel()
    money = np.asarray(revenue, dtype=float).ravel()
    if flags.size != money.size:
        raise ValidationFailed(f"{name}: {flags.size} return flags but {money.size} revenues; give one of each "
                               "per customer", field=name)
    if money.size and not np.isfinite(money).all():
        raise ValidationFailed(f"{name}: every revenue must be a finite number", field=name)
    sd = float(money.std(ddof=1)) if money.size >= 2 else None
    return GroupOutcome(customers=int(flags.size), returned=int(flags.sum()), revenue=float(money.sum()),
                        revenue_sd=sd), money


def per_100(value: float) -> int:
    """A share as whole customers per 100 (0.137 -> 14)."""
    return int(math.floor(abs(value) * 100 + 0.5)) * (1 if value >= 0 else -1)


def signed(number: int) -> str:
    """``+5``, ``−3`` (a true minus sign) or ``0``."""
    return f"+{number}" if number > 0 else f"{MINUS}{-number}" if number < 0 else "0"


def _headline(verdict: Verdict, kind: str, treated: GroupOutcome, holdout: GroupOutcome,
              rate: Interval | None) -> str:
    if verdict == "empty":
        return "Nobody was treated, so there is nothing to measure."
    if verdict == "no_holdout":
        return (f"No hold-out group, so no lift can be claimed: {treated.returned} of {treated.customers} treated "
                f"customers bought in the window.")
    if rate is None:
        return f"Not enough customers to tell ({treated.customers} treated, {holdout.customers} held out)."
    between = f"between {signed(per_100(rate.low))} and {signed(per_100(rate.high))} per 100"
    if verdict == "too_few":
        return (f"Not enough customers to tell ({treated.customers} treated, {holdout.customers} held out): "
                f"{between}.")
    if verdict == "no_effect":
        return f"No measurable effect: {between}."
    more, margin = abs(per_100(rate.estimate)), per_100((rate.high - rate.low) / 2)
    if verdict == "harm":
        return (f"{more} fewer customers per 100 bought again, ±{margin} ({between}): the campaign may have put "
                "people off.")
    if kind == "win_back":
        return f"Won back {more} more customers per 100, ±{margin} ({between})."
    return f"{more} more customers per 100 bought again, ±{margin} ({between})."


def estimate_lift(treated_returned: ArrayLike, treated_revenue: ArrayLike, holdout_returned: ArrayLike,
                  holdout_revenue: ArrayLike, *, kind: str = "win_back", confidence: float = CONFIDENCE,
                  min_group: int = MIN_GROUP, max_width: float = MAX_WIDTH) -> LiftEstimate:
    """The lift of the treated group over the hold-out: return rate and revenue per customer, with intervals.

    Each array has one value per customer of its group: whether they bought in the window, and their
    revenue in it (0 for none). No lift is claimed without a hold-out; below ``min_group`` customers in a
    group, or with an interval wider than ``max_width`` that covers 0, the verdict is "not enough
    customers to tell"; otherwise the return-rate interval decides: above 0 a lift, below 0 harm,
    covering 0 no measurable effect.
    """
    _z(confidence)
    treated, t_money = _group(treated_returned, treated_revenue, "treated")
    holdout, h_money = _group(holdout_returned, holdout_revenue, "holdout")
    rate = revenue = incremental = None
    if treated.customers and holdout.customers:
        rate = newcombe_difference(treated.returned, treated.customers, holdout.returned, holdout.customers,
                                   confidence)
        revenue = welch_difference(t_money, h_money, confidence)
        incremental = revenue.scaled(treated.customers) if revenue is not None else None
    verdict: Verdict
    if not treated.customers:
        verdict = "empty"
    elif not holdout.customers:
        verdict = "no_holdout"
    elif rate is None or min(treated.customers, holdout.customers) < min_group:
        verdict = "too_few"
    elif rate.low > 0:
        verdict = "lift"
    elif rate.high < 0:
        verdict = "harm"
    elif rate.high - rate.low > max_width:
        verdict = "too_few"
    else:
        verdict = "no_effect"
    return LiftEstimate(treated=treated, holdout=holdout, return_rate=rate, revenue_per_customer=revenue,
                        incremental_revenue=incremental, verdict=verdict,
                        headline=_headline(verdict, kind, treated, holdout, rate), confidence=confidence)


def revenue_line(estimate: LiftEstimate, money: Callable[[float], str] = lambda v: f"{v:,.2f}") -> str:
    """The revenue side in words: per customer in each group, the difference and the incremental revenue."""
    t, h = estimate.treated.revenue_per_customer, estimate.holdout.revenue_per_customer
    if t is None:
        return "No revenue to compare: nobody was treated."
    if h is None:
        return (f"Treated customers spent {money(estimate.treated.revenue)} in the window "
                f"({money(t)} per customer); without a hold-out none of it can be called extra.")
    diff = estimate.revenue_per_customer
    if diff is None:
        return f"Revenue per customer: {money(t)} treated, {money(h)} held out (too few customers for an interval)."
    extra = estimate.incremental_revenue
    assert extra is not None
    return (f"Revenue per customer: {money(t)} treated, {money(h)} held out; a difference of "
            f"{money(diff.estimate)} (between {money(diff.low)} and {money(diff.high)}). Incremental revenue: "
            f"{money(extra.estimate)} (between {money(extra.low)} and {money(extra.high)}).")


def as_dict(estimate: LiftEstimate) -> dict[str, object]:
    """The estimate as plain JSON-ready values (stored with the campaign so pages only read)."""

    def interval(value: Interval | None, digits: int) -> dict[str, float] | None:
        if value is None:
            return None
        return {"estimate": round(value.estimate, digits), "low": round(value.low, digits),
                "high": round(value.high, digits)}

    def group(g: GroupOutcome) -> dict[str, object]:
        return {"customers": g.customers, "returned": g.returned, "rate": None if g.rate is None else round(g.rate, 6),
                "revenue": round(g.revenue, 2),
                "revenue_per_customer": None if g.revenue_per_customer is None else round(g.revenue_per_customer, 4),
                "revenue_sd": None if g.revenue_sd is None else round(g.revenue_sd, 4)}

    return {"treated": group(estimate.treated), "holdout": group(estimate.holdout),
            "return_rate": interval(estimate.return_rate, 6),
            "revenue_per_customer": interval(estimate.revenue_per_customer, 4),
            "incremental_revenue": interval(estimate.incremental_revenue, 2),
            "verdict": estimate.verdict, "headline": estimate.headline, "confidence": estimate.confidence,
            "methods": {"return_rate": "Newcombe (1998) hybrid score interval, method 10",
                        "revenue_per_customer": "Welch (1947) t interval"}}

