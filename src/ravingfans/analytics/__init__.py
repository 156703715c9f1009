"""Pure analytics: tables in, tables out (Polars or Arrow); no database, no web, no ORM.

The names below load on first use, so importing one module (``ravingfans.analytics.scoring``) does not
pay for the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ravingfans.analytics.affinity import affinity, affinity_counts, affinity_facts, score_counts
    from ravingfans.analytics.lapse import SLIPPING_COLUMNS, slipping_fans, spend_trend
    from ravingfans.analytics.rfm import DEFAULT_SEGMENTS, rfm_scores, rfm_segments, validate_segment_map
    from ravingfans.analytics.scoring import Scoring, ScoringOptions, score_customers
    from ravingfans.analytics.summary import compress, customer_summary

_LAZY = {
    "affinity": "affinity", "affinity_counts": "affinity", "affinity_facts": "affinity", "score_counts": "affinity",
    "SLIPPING_COLUMNS": "lapse", "slipping_fans": "lapse", "spend_trend": "lapse",
    "DEFAULT_SEGMENTS": "rfm", "rfm_scores": "rfm", "rfm_segments": "rfm", "validate_segment_map": "rfm",
    "Scoring": "scoring", "ScoringOptions": "scoring", "score_customers": "scoring",
    "compress": "summary", "customer_summary": "summary",
}

__all__ = [
    "DEFAULT_SEGMENTS",
    "SLIPPING_COLUMNS",
    "Scoring",
    "ScoringOptions",
    "affinity",
    "affinity_counts",
    "affinity_facts",
    "compress",
    "customer_summary",
    "rfm_scores",
    "rfm_segments",
    "score_counts",
    "score_customers",
    "slipping_fans",
    "spend_trend",
    "validate_segment_map",
]


def __getattr__(name: str) -> Any:
    """Import the module holding ``name`` on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f"ravingfans.analytics.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ravingfans.analytics' has no attribute {name!r}")
