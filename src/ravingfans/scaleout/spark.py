"""The stages that touch every order, on Apache Spark: the same relational plans as the embedded engine.

``customer_summary``/``compress`` mirror :mod:`ravingfans.analytics.summary` and ``rfm_scores``/
``rfm_segments`` mirror :mod:`ravingfans.analytics.rfm`, step for step (group-bys, joins, ranks over a
partition), written with the PySpark DataFrame API so an order log too large for one machine gives the
same numbers as Polars gives on one. They take and return Spark DataFrames with the same column names
and the same semantics (read the Polars modules for the definitions); a Spark DataFrame is lazy, so,
as for a Polars LazyFrame, an ``observation_end`` before every transaction is not checked (the summary
is then empty). Row order is the one of the Polars functions where they sort (summary, compress) and
unspecified where they keep the input order (scores, segments).

The models never need the big table: ``collect_compressed`` brings back only the distinct
(frequency, recency, T) rows with their counts, which :mod:`ravingfans.analytics.btyd` fits.

pyspark is an optional extra (``ravingfans[spark]``) imported only inside the functions, so this module
imports without it and says what to install when it is used. Spark and its SQL functions:
https://spark.apache.org/docs/latest/api/python/reference/pyspark.sql/functions.html
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import pyarrow as pa

from ravingfans.analytics.rfm import DEFAULT_SEGMENTS, SegmentRule, validate_segment_map
from ravingfans.analytics.summary import SUMMARY_COLUMNS, TimeUnit, _unit_days
from ravingfans.errors import ConfigError, ValidationFailed

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import Column, DataFrame, SparkSession

INSTALL_HINT = "install ravingfans[spark] (pip install 'ravingfans[spark]'), which brings pyspark"

_DAY = "_day"
_NET = "_net"
_MICROS_PER_DAY = 86_400_000_000
_FAN = "_is_fan"


class SparkUnavailable(ConfigError):
    """pyspark (or the Java runtime Spark runs on) is not installed."""

    code = "spark_unavailable"


def _spark() -> SimpleNamespace:
    """The pyspark names this module uses, imported on first use; a clear message when it is missing."""
    try:
        from pyspark.sql import DataFrame, SparkSession, Window
        from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention
        from pyspark.sql import types as T  # noqa: N812
    except ImportError as exc:
        raise SparkUnavailable(
            "running on Spark needs pyspark, which is not installed: install ravingfans[spark]",
            hint=INSTALL_HINT,
        ) from exc
    return SimpleNamespace(DataFrame=DataFrame, SparkSession=SparkSession, Window=Window, F=F, T=T)


def local_session(cores: int = 2, memory: str = "1g", *, app_name: str = "ravingfans") -> SparkSession:
    """A local-mode SparkSession for tests and single machines: UTC session, few shuffle partitions, no UI, quiet."""
    sp = _spark()
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkUnavailable(
            "Spark needs a Java runtime (17 or newer) and none was found (no JAVA_HOME, no java on PATH)",
            hint="install a JDK, e.g. apt-get install openjdk-17-jre-headless",
        )
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no guessing of a network address for local mode
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers (mapInArrow) see this environment
    session = (
        sp.SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.driver.memory", memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(max(2, cores)))
        .config("spark.default.parallelism", str(max(2, cores)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


# --- conversions ------------------------------------------------------------------------------------


def to_polars(frame: DataFrame) -> pl.DataFrame:
    """Collect a Spark DataFrame to Polars through Arrow (for small results: compressed tables, samples, tests)."""
    _require_frame(frame)
    if hasattr(frame, "toArrow"):  # pyspark >= 4.0
        table = frame.toArrow()
    else:  # pyspark 3.5: the same Arrow batches, through the method toPandas uses
        from pyspark.sql.pandas.types import to_arrow_schema

        batches = frame._collect_as_arrow()
        table = pa.Table.from_batches(batches, schema=to_arrow_schema(frame.schema))
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out


def from_polars(session: SparkSession, frame: pl.DataFrame) -> DataFrame:
    """A Spark DataFrame holding a Polars table; naive datetimes stay naive (Spark's TIMESTAMP_NTZ)."""
    sp = _spark()
    if _pyspark_major() >= 4:
        out = session.createDataFrame(frame.to_arrow())
    else:  # pyspark 3.5 reads Arrow only through pandas
        out = session.createDataFrame(frame.to_pandas(use_pyarrow_extension_array=False))
    # Arrow naive timestamps arrive as wall times in the session zone; the cast gives those wall times back.
    naive = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime) and dtype.time_zone is None]
    return out.select(*(sp.F.col(c).cast("timestamp_ntz").alias(c) if c in naive else sp.F.col(c) for c in frame.columns))


def collect_compressed(
    summary: DataFrame,
    *,
    frequency_col: str = "frequency",
    recency_col: str = "recency",
    T_col: str = "T",  # noqa: N803 - the literature's name
) -> pl.DataFrame:
    """Only the distinct (frequency, recency, T) rows with counts, as Polars: all the BTYD fits need."""
    return to_polars(compress(summary, frequency_col=frequency_col, recency_col=recency_col, T_col=T_col))


# --- summary ------------------------------------------------------------------------------------------


def customer_summary(
    transactions: DataFrame,
    *,
    observation_end: date | datetime,
    customer_id_col: str = "customer_id",
    datetime_col: str = "timestamp",
    monetary_value_col: str | None = "amount",
    time_unit: TimeUnit = "D",
    order_id_col: str | None = None,
    timezone_name: str = "UTC",
) -> DataFrame:
    """Spark twin of :func:`ravingfans.analytics.summary.customer_summary`: one row per customer, same columns."""
    sp = _spark()
    F, Window = sp.F, sp.Window  # noqa: N806
    _require_frame(transactions)
    # Polars (2.1) divides a column of five or more values by a scalar as a product with the reciprocal,
    # up to 1 ulp from the rounded quotient (tinier tables get the quotient); multiplying here too makes
    # recency and T, the models' inputs, bit for bit the embedded engine's on any real table.
    per_day = 1.0 / _unit_days(time_unit)
    _check_zone(timezone_name)
    schema = {f.name: f.dataType for f in transactions.schema.fields}
    needed = [customer_id_col, datetime_col] + [c for c in (monetary_value_col, order_id_col) if c]
    _require_columns(transactions, needed, table="transactions")
    ts_kind = _time_kind(schema[datetime_col])
    if ts_kind is None:
        raise ValidationFailed(
            f"column {datetime_col!r} must hold dates or datetimes, not {schema[datetime_col].simpleString()}",
            field=datetime_col,
        )
    if monetary_value_col and not isinstance(schema[monetary_value_col], sp.T.NumericType):
        raise ValidationFailed(
            f"column {monetary_value_col!r} must hold numbers, not {schema[monetary_value_col].simpleString()}",
            field=monetary_value_col,
        )

    cid = customer_id_col
    in_window, obs_day = _window(ts_kind, datetime_col, observation_end, timezone_name)
    rows = transactions.filter(F.col(cid).isNotNull() & F.col(datetime_col).isNotNull()).filter(in_window)

    if order_id_col:  # each line counts when its order was first seen
        starts = rows.groupBy(cid, order_id_col).agg(F.min(datetime_col).alias("_order_start"))
        rows = rows.join(starts, on=[cid, order_id_col], how="left")  # null order ids match nothing
        started = F.coalesce(F.col("_order_start"), F.col(datetime_col))  # no order id: its own time
        day = _day_expr(started, ts_kind, timezone_name)
    else:
        day = _day_expr(F.col(datetime_col), ts_kind, timezone_name)

    net = [F.sum(monetary_value_col).alias(_NET)] if monetary_value_col else []
    occasions = rows.withColumn(_DAY, day).groupBy(cid, _DAY).agg(F.count(F.lit(1)).alias("_lines"), *net)  # a count: agg needs one
    returned = None
    if monetary_value_col:  # a day that nets to a return or refund is no purchase, but lowers total spend
        returned = occasions.filter(F.col(_NET) <= 0).groupBy(cid).agg(F.sum(_NET).alias("_returned"))
        occasions = occasions.filter(F.col(_NET) > 0)
    # Occasions are distinct days per customer; a window by customer ordered by day gives each its rank
    # and the gap to the one before, as Polars does with shift() over occasions sorted by customer and day.
    by_day = Window.partitionBy(cid).orderBy(_DAY)
    occasions = occasions.select(
        cid, _DAY, *([_NET] if monetary_value_col else []),
        F.row_number().over(by_day).alias("_seq"),
        F.datediff(F.col(_DAY), F.lag(_DAY).over(by_day)).alias("_gap"),
    )

    spend = []
    if monetary_value_col:
        spend = [
            F.sum(_NET).alias("total_spend"),
            F.avg(F.when(F.col("_seq") > 1, F.col(_NET).cast("double"))).alias("monetary_value"),
        ]
    out = occasions.groupBy(cid).agg(
        F.min(_DAY).alias("first_purchase"),
        F.max(_DAY).alias("last_purchase"),
        F.count(F.lit(1)).cast("long").alias("purchases"),
        (F.stddev_samp(F.col("_gap").cast("double")) * F.lit(per_day)).alias("gap_std"),
        *spend,
    )

    if returned is not None:
        out = (out.join(returned, on=cid, how="left")
               .withColumn("total_spend", F.col("total_spend") + F.coalesce(F.col("_returned"), F.lit(0)))
               .drop("_returned"))

    span = F.datediff(F.col("last_purchase"), F.col("first_purchase"))
    age = F.datediff(F.lit(obs_day), F.col("first_purchase"))
    frequency = F.col("purchases") - 1
    out = out.select(
        "*",
        frequency.alias("frequency"),
        (span.cast("double") * F.lit(per_day)).alias("recency"),
        (age.cast("double") * F.lit(per_day)).alias("T"),
        F.when(frequency > 0, span.cast("double") / frequency.cast("double") * F.lit(per_day)).alias("mean_gap"),
    )
    if monetary_value_col:
        out = out.withColumn("monetary_value", F.coalesce(F.col("monetary_value"), F.lit(0.0)))
    spend_cols = ("monetary_value", "total_spend")
    columns = [cid, *(c for c in SUMMARY_COLUMNS if monetary_value_col or c not in spend_cols)]
    return out.select(*columns).orderBy(cid)


def compress(
    summary: DataFrame,
    *,
    frequency_col: str = "frequency",
    recency_col: str = "recency",
    T_col: str = "T",  # noqa: N803 - the literature's name
) -> DataFrame:
    """Distinct (frequency, recency, T) rows with a ``count``: all a BTYD model fit needs, however many customers."""
    F = _spark().F  # noqa: N806
    _require_frame(summary)
    cols = [frequency_col, recency_col, T_col]
    _require_columns(summary, cols, table="summary")
    return summary.groupBy(*cols).agg(F.count(F.lit(1)).cast("long").alias("count")).orderBy(*cols)


# --- RFM ----------------------------------------------------------------------------------------------


def rfm_scores(
    summary: DataFrame,
    *,
    customer_id_col: str = "customer_id",
    last_purchase_col: str = "last_purchase",
    frequency_col: str = "frequency",
    monetary_col: str = "total_spend",
) -> DataFrame:
    """Spark twin of :func:`ravingfans.analytics.rfm.rfm_scores`: R, F, M quintiles appended, ties share a score."""
    F = _spark().F  # noqa: N806
    _require_frame(summary)
    _require_columns(summary, [customer_id_col, last_purchase_col, frequency_col, monetary_col], table="summary")
    out = summary
    for name, col, descending in (("R", last_purchase_col, True), ("F", frequency_col, False),
                                  ("M", monetary_col, False)):
        out = _with_quintile(out, col, name, descending=descending)
    out = out.withColumn("R", (F.lit(6) - F.col("R")).cast("byte"))
    return out.select(*summary.columns, "R", "F", "M")


def rfm_segments(
    scores: DataFrame,
    segment_map: Sequence[SegmentRule] = DEFAULT_SEGMENTS,
    *,
    r_col: str = "R",
    f_col: str = "F",
    m_col: str = "M",
    segment_col: str = "segment",
) -> DataFrame:
    """Spark twin of :func:`ravingfans.analytics.rfm.rfm_segments`: ``FM`` and the named segment appended."""
    F = _spark().F  # noqa: N806
    rules = validate_segment_map(segment_map)
    _require_frame(scores)
    _require_columns(scores, [r_col, f_col, m_col], table="scores")
    fm = F.floor((F.col(f_col).cast("long") + F.col(m_col).cast("long")) / F.lit(2)).cast("long")
    r = F.col(r_col).cast("long")
    # The map is a partition of the 5 x 5 grid (validated), so a CASE over its rules is the lookup-table join
    # of the Polars version; a missing score matches no rule and gives no segment, as there.
    segment: Any = None
    for name, (r_lo, r_hi), (fm_lo, fm_hi) in rules:
        cond = r.between(r_lo, r_hi) & F.col("FM").between(fm_lo, fm_hi)
        segment = F.when(cond, F.lit(name)) if segment is None else segment.when(cond, F.lit(name))
    return (
        scores.withColumn("FM", fm)
        .withColumn(segment_col, segment.otherwise(F.lit(None).cast("string")))
        .withColumn("FM", F.col("FM").cast("byte"))
    )


def _with_quintile(frame: DataFrame, col: str, name: str, *, descending: bool) -> DataFrame:
    """Add ``min(5, 1 + floor(5 * PERCENT_RANK(col)))`` as ``name`` (the Polars ``_quintile``), in integers.

    PERCENT_RANK over the whole table would move every row to one partition; here it is computed on the
    distinct values with their counts (customers with a smaller value = running count before that value)
    and joined back, so only the small table of distinct values is ever in one partition. Nulls are left
    out of the ranking and get no score, as in Polars.
    """
    sp = _spark()
    F, Window = sp.F, sp.Window  # noqa: N806
    values = frame.filter(F.col(col).isNotNull()).groupBy(col).agg(F.count(F.lit(1)).alias("_k"))
    order = F.col(col).desc() if descending else F.col(col).asc()
    running = Window.orderBy(order).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    everyone = Window.partitionBy()
    values = values.select(
        col,
        (F.sum("_k").over(running) - F.col("_k")).alias("_smaller"),
        F.sum("_k").over(everyone).alias("_n"),
    )
    score = F.when(
        F.col("_n") > 1,
        F.least(F.lit(5).cast("long"), F.lit(1) + F.expr("(5 * _smaller) div (_n - 1)")),
    ).otherwise(F.lit(1))
    lookup = values.select(col, score.cast("byte").alias(name))
    return frame.join(lookup, on=col, how="left")  # a null value matches nothing: no score


# --- affinity -----------------------------------------------------------------------------------------


def affinity_counts(
    facts: DataFrame,
    fans: Any,
    *,
    customer_id_col: str = "customer_id",
    value_col: str = "value",
    dimension_col: str | None = None,
    population: int | None = None,
) -> DataFrame:
    """Spark twin of :func:`ravingfans.analytics.affinity.affinity_counts`: per value, customers and fans among them.

    ``fans`` is a Spark DataFrame with ``customer_id_col``, or anything the Polars version takes (a
    table, a Series, a list of ids), which is sent to Spark (fans are few next to the facts).
    """
    sp = _spark()
    F = sp.F  # noqa: N806
    _require_frame(facts)
    keys = ([dimension_col] if dimension_col else []) + [value_col]
    _require_columns(facts, [customer_id_col, *keys], table="facts")
    cid = customer_id_col
    fan_ids = _fan_ids(facts, fans, cid)
    if population is not None and (isinstance(population, bool) or not isinstance(population, int)
                                   or population < 1):
        raise ValidationFailed(f"population must be a whole number of customers, 1 or more, not {population!r}",
                               field="population")

    flag = fan_ids.select(cid, F.lit(1).cast("long").alias(_FAN))
    pairs = facts.filter(F.col(cid).isNotNull() & F.col(value_col).isNotNull()).select(cid, *keys).distinct()
    # Polars sums an all-null column to 0 where SQL gives NULL: coalesce to keep the counts the same.
    counts = pairs.join(flag, on=cid, how="left").groupBy(*keys).agg(
        F.coalesce(F.sum(_FAN), F.lit(0)).cast("long").alias("fan_customers"),
        F.count(F.lit(1)).cast("long").alias("customers"),
    )
    if population is None:
        everyone = facts.filter(F.col(cid).isNotNull()).select(cid).distinct()
        totals = everyone.join(flag, on=cid, how="left").agg(
            F.coalesce(F.sum(_FAN), F.lit(0)).cast("long").alias("fans"),
            F.count(F.lit(1)).cast("long").alias("population"),
        )
    else:
        totals = fan_ids.agg(F.count(F.lit(1)).cast("long").alias("fans"),
                             F.lit(population).cast("long").alias("population"))
    out = counts.crossJoin(totals).select(*keys, "fan_customers", "customers", "fans", "population")
    return out.orderBy(*keys)


def affinity(
    facts: DataFrame,
    fans: Any,
    *,
    customer_id_col: str = "customer_id",
    value_col: str = "value",
    dimension_col: str | None = None,
    population: int | None = None,
    min_fan_customers: int = 5,
    min_support: float = 0.01,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Counts on Spark, then the embedded test stage (:func:`~ravingfans.analytics.affinity.score_counts`) on them.

    Only the counts table (one row per value) leaves the cluster; the result is a Polars DataFrame.
    """
    from ravingfans.analytics.affinity import score_counts

    # the embedded affinity()'s checks, before any Spark job runs
    if not 0 < alpha < 1:
        raise ValidationFailed(f"alpha must be between 0 and 1, not {alpha!r}", field="alpha")
    if not 0 <= min_support <= 1:
        raise ValidationFailed(f"min_support is a share of the fans, between 0 and 1, not {min_support!r}",
                               field="min_support")
    if isinstance(min_fan_customers, bool) or not isinstance(min_fan_customers, int) or min_fan_customers < 0:
        raise ValidationFailed(f"min_fan_customers must be a whole number, 0 or more, not {min_fan_customers!r}",
                               field="min_fan_customers")
    counts = affinity_counts(facts, fans, customer_id_col=customer_id_col, value_col=value_col,
                             dimension_col=dimension_col, population=population)
    return score_counts(to_polars(counts), min_fan_customers=min_fan_customers, min_support=min_support,
                        alpha=alpha)


def _fan_ids(facts: DataFrame, fans: Any, cid: str) -> DataFrame:
    """The distinct non-null fan ids as a one-column Spark DataFrame named ``cid``, cast to the facts' id type."""
    sp = _spark()
    F = sp.F  # noqa: N806
    id_type = facts.schema[cid].dataType
    if _is_frame(fans):
        if cid not in fans.columns:
            have = ", ".join(fans.columns) or "none"
            raise ValidationFailed(f"the fans table has no column {cid!r} (it has: {have})", field=cid)
        ids = fans.select(F.col(cid))
    else:
        if isinstance(fans, pa.Table):
            fans = pl.from_arrow(fans)
        if isinstance(fans, pl.LazyFrame):
            fans = fans.collect()
        if isinstance(fans, pl.DataFrame):
            if cid not in fans.columns:
                have = ", ".join(fans.columns) or "none"
                raise ValidationFailed(f"the fans table has no column {cid!r} (it has: {have})", field=cid)
            values = fans[cid].to_list()
        elif isinstance(fans, pl.Series):
            values = fans.to_list()
        elif isinstance(fans, (str, bytes)) or not isinstance(fans, Iterable):
            raise ValidationFailed(f"fans must be a table, a Series or a list of customer ids, not "
                                   f"{type(fans).__name__}", field="fans")
        else:
            values = list(fans)
        schema = sp.T.StructType([sp.T.StructField(cid, id_type, True)])
        try:
            ids = facts.sparkSession.createDataFrame([(v,) for v in values], schema=schema)
        except (TypeError, ValueError):
            raise ValidationFailed(f"fan ids do not match the type of column {cid!r} ({id_type.simpleString()})",
                                   field=cid) from None
    return ids.select(F.col(cid).cast(id_type).alias(cid)).dropna().distinct()


# --- helpers ------------------------------------------------------------------------------------------


def _pyspark_major() -> int:
    """The major version of the installed pyspark."""
    import pyspark

    return int(pyspark.__version__.split(".")[0])


def _is_frame(obj: object) -> bool:
    """Whether ``obj`` is a Spark DataFrame: classic, or Spark Connect (a subclass in 4.x, its own class in 3.5)."""
    if isinstance(obj, _spark().DataFrame):
        return True
    return any(c.__name__ == "DataFrame" and c.__module__.startswith("pyspark.sql.") for c in type(obj).__mro__)


def _require_frame(frame: object) -> None:
    """Refuse anything but a Spark DataFrame, naming what came instead."""
    if not _is_frame(frame):
        raise ValidationFailed(
            f"expected a Spark DataFrame, not {type(frame).__name__}; for Polars or Arrow tables use "
            "ravingfans.analytics",
            field="table",
        )


def _require_columns(frame: DataFrame, columns: list[str], *, table: str) -> None:
    """Raise :class:`ValidationFailed` naming the first column the table lacks (same words as the Polars check)."""
    names = frame.columns
    for col in columns:
        if col not in names:
            have = ", ".join(names) or "none"
            raise ValidationFailed(f"the {table} table has no column {col!r} (it has: {have})", field=col)


def _check_zone(name: str) -> None:
    """Refuse a time zone name the IANA database does not know, before Spark fails on it mid-job."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone {name!r}", field="timezone_name") from None


def _time_kind(dtype: Any) -> str | None:
    """'date', 'instant' (TIMESTAMP, with time zone) or 'naive' (TIMESTAMP_NTZ, UTC wall time), else None."""
    t = _spark().T
    if isinstance(dtype, t.DateType):
        return "date"
    if isinstance(dtype, t.TimestampType):
        return "instant"
    if isinstance(dtype, getattr(t, "TimestampNTZType", ())):
        return "naive"
    return None


def _day_expr(ts: Column, kind: str, tz: str) -> Column:
    """The calendar day of a timestamp in the shop's time zone, whatever the session's time zone is."""
    F = _spark().F  # noqa: N806
    if kind == "date":
        return ts
    if kind == "naive":  # UTC wall time -> wall time in tz; a naive timestamp's date needs no zone
        return F.to_date(F.convert_timezone(F.lit("UTC"), F.lit(tz), ts))
    # An instant shifted to tz's wall time read as UTC; its whole UTC days since 1970 are the local date
    # (to_date would read it in the session's zone instead).
    micros = F.unix_micros(F.from_utc_timestamp(ts, tz))
    days = (micros - F.pmod(micros, F.lit(_MICROS_PER_DAY))) / F.lit(_MICROS_PER_DAY)
    return F.date_from_unix_date(days.cast("int"))


def _window(kind: str, col: str, end: date | datetime, tz: str) -> tuple[Column, date]:
    """The filter keeping rows up to ``end``, and the calendar day T is measured to (as in the Polars plan)."""
    F = _spark().F  # noqa: N806
    if isinstance(end, datetime):
        instant = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
        end_day = instant.astimezone(ZoneInfo(tz)).date()
        if kind == "date":
            return F.col(col) <= F.lit(end_day), end_day
        utc = instant.astimezone(timezone.utc)
        if kind == "naive":  # naive data are UTC wall times
            wall = F.lit(utc.replace(tzinfo=None).isoformat(sep=" ")).cast("timestamp_ntz")
            return F.col(col) <= wall, end_day
        micros = (utc - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
        return F.col(col) <= F.timestamp_micros(F.lit(micros)), end_day
    if not isinstance(end, date):
        raise ValidationFailed(
            f"observation_end must be a date or datetime, not {type(end).__name__}", field="observation_end"
        )
    return _day_expr(F.col(col), kind, tz) <= F.lit(end), end

