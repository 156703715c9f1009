"""Buy-till-you-die models (BG/NBD, Pareto/NBD) and Gamma-Gamma spend: who is still a customer, what next.

Inputs are the compressed RFM table (distinct frequency, recency, T with a ``count`` weight), in the
lifetimes conventions; too few repeat buyers raise :class:`NotEnoughData` rather than give noise.

The names below load on first use: the models need SciPy's special functions (0.2-0.3 s to import), which
``analyze`` loads on a second thread while Polars reads the orders, so importing this package (or its
light ``fitting`` module, for the constants) must not pull them in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ravingfans.analytics.btyd import bgnbd, gammagamma, paretonbd
    from ravingfans.analytics.btyd.bgnbd import BgNbdFit
    from ravingfans.analytics.btyd.fitting import MIN_REPEAT_BUYERS, NotEnoughData
    from ravingfans.analytics.btyd.gammagamma import GammaGammaFit, IndependenceCheck, clv
    from ravingfans.analytics.btyd.paretonbd import ParetoNbdFit

_LAZY = {
    "MIN_REPEAT_BUYERS": "fitting", "NotEnoughData": "fitting", "BgNbdFit": "bgnbd",
    "GammaGammaFit": "gammagamma", "IndependenceCheck": "gammagamma", "clv": "gammagamma",
    "ParetoNbdFit": "paretonbd",
}
_MODULES = ("bgnbd", "gammagamma", "paretonbd")

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


def __getattr__(name: str) -> Any:
    """Import the module holding ``name`` (or the model module ``name``) on first use."""
    if name in _MODULES:
        return importlib.import_module(f"ravingfans.analytics.btyd.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(f"ravingfans.analytics.btyd.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ravingfans.analytics.btyd' has no attribute {name!r}")
