"""Pure analytics: tables in, tables out (Polars or Arrow); no database, no web, no ORM."""

from ravingfans.analytics.rfm import DEFAULT_SEGMENTS, rfm_scores, rfm_segments, validate_segment_map
from ravingfans.analytics.summary import compress, customer_summary

__all__ = [
    "DEFAULT_SEGMENTS",
    "compress",
    "customer_summary",
    "rfm_scores",
    "rfm_segments",
    "validate_segment_map",
]
