"""Buy-till-you-die models (BG/NBD, Pareto/NBD) and Gamma-Gamma spend: who is still a customer, what next.

Inputs are the compressed RFM table (distinct frequency, recency, T with a ``count`` weight), in the
lifetimes conventions; too few repeat buyers raise :class:`NotEnoughData` rather than give noise.
"""

from __future__ import annotations

from ravingfans.analytics.btyd import bgnbd, gammagamma, paretonbd
from ravingfans.analytics.btyd.bgnbd import BgNbdFit
from ravingfans.analytics.btyd.fitting import MIN_REPEAT_BUYERS, NotEnoughData
from ravingfans.analytics.btyd.gammagamma import GammaGammaFit, IndependenceCheck, clv
from ravingfans.analytics.btyd.paretonbd import ParetoNbdFit

__all__ = [
    "MIN_REPEAT_BUYERS",
    "BgNbdFit",
    "GammaGammaFit",
    "IndependenceCheck",
    "NotEnoughData",
    "ParetoNbdFit",
    "bgnbd",
    "clv",
    "gammagamma",
    "paretonbd",
]
