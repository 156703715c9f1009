"""Scale-out: the stages that touch every order (summary, RFM, affinity counts) on Apache Spark.

Optional: needs the ``spark`` extra (``pip install 'ravingfans[spark]'``). Importing this package never
imports pyspark; the functions do, and raise :class:`SparkUnavailable` saying what to install. See
docs/scaleout.md.
"""

from ravingfans.scaleout.spark import (
    SparkUnavailable,
    affinity,
    affinity_counts,
    collect_compressed,
    compress,
    customer_summary,
    from_polars,
    local_session,
    rfm_scores,
    rfm_segments,
    to_polars,
)

__all__ = [
    "SparkUnavailable",
    "affinity",
    "affinity_counts",
    "collect_compressed",
    "compress",
    "customer_summary",
    "from_polars",
    "local_session",
    "rfm_scores",
    "rfm_segments",
    "to_polars",
]
