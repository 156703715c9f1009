"""The demo business: a synthetic shoe and clothing store with known ground truth, to try ravingfans on.

``generate()`` builds it (reproducibly from a seed), ``ravingfans.demo.load.load()`` puts it into its
own database (the function is not re-exported here: the submodule of the same name would shadow it)
and ``write_csv()`` writes it as import files. Importing this package stays cheap: the generator (and
numpy) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ravingfans.demo.model import (
    DEFAULT_CUSTOMERS,
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_YEARS,
    FAN,
    LAPSING_FAN,
    ONE_OFF,
    REGULAR,
    SEGMENT_KINDS,
    SOURCE,
    DemoBusiness,
    DemoTruth,
)

if TYPE_CHECKING:
    from ravingfans.demo.generator import generate
    from ravingfans.demo.load import DemoAlreadyLoaded, NotADemoDatabase, TargetState, inspect_target
    from ravingfans.demo.report import DemoReport, summarize
    from ravingfans.demo.writer import write_csv

_LAZY = {
    "generate": "ravingfans.demo.generator",
    "inspect_target": "ravingfans.demo.load",
    "TargetState": "ravingfans.demo.load",
    "NotADemoDatabase": "ravingfans.demo.load",
    "DemoAlreadyLoaded": "ravingfans.demo.load",
    "summarize": "ravingfans.demo.report",
    "DemoReport": "ravingfans.demo.report",
    "write_csv": "ravingfans.demo.writer",
}

__all__ = [
    "DEFAULT_CUSTOMERS",
    "DEFAULT_END",
    "DEFAULT_SEED",
    "DEFAULT_YEARS",
    "FAN",
    "LAPSING_FAN",
    "ONE_OFF",
    "REGULAR",
    "SEGMENT_KINDS",
    "SOURCE",
    "DemoAlreadyLoaded",
    "DemoBusiness",
    "DemoReport",
    "DemoTruth",
    "NotADemoDatabase",
    "TargetState",
    "generate",
    "inspect_target",
    "summarize",
    "write_csv",
]


def __getattr__(name: str) -> Any:
    """Import the heavier parts (numpy, SQLAlchemy Core work) only when first used."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ravingfans.demo' has no attribute {name!r}")
