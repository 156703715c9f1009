"""A fast scalar random stream on top of numpy's Generator, so per-event draws stay cheap and seeded."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import TypeVar

import numpy as np

T = TypeVar("T")
_BLOCK = 1 << 16


class Draws:
    """Uniforms drawn from ``rng`` in blocks (a scalar numpy call costs microseconds; this costs ~0.1)."""

    __slots__ = ("_buf", "_i", "_rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0

    def u(self) -> float:
        """A uniform number in [0, 1)."""
        i = self._i
        if i >= len(self._buf):
            self._buf = self._rng.random(_BLOCK).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.u() < p

    def below(self, n: int) -> int:
        """A whole number in [0, n)."""
        return min(int(self.u() * n), n - 1)

    def between(self, low: float, high: float) -> float:
        """A uniform number in [low, high)."""
        return low + (high - low) * self.u()

    def pick(self, items: Sequence[T]) -> T:
        """One of ``items``, each equally likely."""
        return items[self.below(len(items))]

    def weighted(self, cumulative: Sequence[float]) -> int:
        """An index drawn with the weights whose running sums are ``cumulative`` (see :func:`cumulate`)."""
        return min(bisect_right(cumulative, self.u() * cumulative[-1]), len(cumulative) - 1)

    def exp(self, mean: float) -> float:
        """An exponential waiting time with the given mean."""
        return -mean * math.log(1.0 - self.u())

    def normal(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        """A normal draw (Box-Muller; one of the pair is dropped for simplicity)."""
        u1 = 1.0 - self.u()
        return mu + sigma * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * self.u())

    def logistic(self) -> float:
        """A standard logistic draw: the noise of an ordered-logit rating."""
        u = min(max(self.u(), 1e-12), 1 - 1e-12)
        return math.log(u / (1.0 - u))

    def poisson(self, lam: float) -> int:
        """A Poisson count (Knuth's method; fine for the small means used here)."""
        if lam <= 0:
            return 0
        limit = math.exp(-lam)
        k, p = 0, self.u()
        while p > limit:
            k += 1
            p *= self.u()
        return k


def cumulate(weights: Sequence[float]) -> list[float]:
    """Running sums of ``weights``, the form :meth:`Draws.weighted` takes."""
    return list(accumulate(weights))
