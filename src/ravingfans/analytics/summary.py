"""Per-customer purchase summary (recency, frequency, age, spend) from a transaction table.

The conventions are those of lifetimes' ``summary_data_from_transaction_data`` (and PyMC-Marketing's
``rfm_summary``), so the table feeds the buy-till-you-die models unchanged:

* A *purchase occasion* is one customer's transactions on one calendar day, summed. Negative lines
  (returns, refunds) on that day are netted in; an occasion whose net amount is <= 0 is no purchase.
* ``frequency`` = occasions - 1 (repeat occasions); ``recency`` = first to last occasion and ``T`` =
  first occasion to the observation end, both in ``time_unit``s; ``monetary_value`` = mean net amount
  of the repeat occasions (0 when there are none); ``total_spend`` (ours) = net spend over every day,
  returns and refunds on non-purchase days included.

Unlike lifetimes with ``freq="W"``, occasions are always calendar days: a weekly ``time_unit`` only
rescales the durations (days / 7), it does not merge purchases made in the same week.

Everything is a group-by with per-customer aggregates (min, max, count, sum, the mean of all but the first
occasion and the spread of the gaps between consecutive occasions), so a SQL or Spark engine can run the
same plan and get the same numbers.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import polars as pl

from ravingfans.errors import ValidationFailed

if TYPE_CHECKING:  # pyarrow costs ~60 ms to import, and only an Arrow table passed in needs it
    import pyarrow as pa

Table = TypeVar("Table", pl.DataFrame, pl.LazyFrame, "pa.Table")

TimeUnit = Literal["D", "W"] | timedelta

SUMMARY_COLUMNS = (
    "first_purchase", "last_purchase", "purchases", "frequency", "recency", "T",
    "monetary_value", "total_spend", "mean_gap", "gap_std",
)

_DAY = "_day"
_NET = "_net"
_BOUGHT = "_bought"
_GAP = "_gap"
_REPEAT = "_repeat"
_KEY = "_key"
_PACK_DAYS = 1 << 17  # room for days -2^16 .. 2^16 - 1 around 1970-01-01
_PACK_DAY_OFFSET = 1 << 16
_PACK_ID_LIMIT = 1 << 46  # ids below this times 2^17 stay inside Int64


def customer_summary(
    transactions: Table,
    *,
    observation_end: date | datetime,
    customer_id_col: str = "customer_id",
    datetime_col: str = "timestamp",
    monetary_value_col: str | None = "amount",
    time_unit: TimeUnit = "D",
    order_id_col: str | None = None,
    timezone_name: str = "UTC",
) -> Table:
    """One row per customer with occasions, frequency, recency, T and spend, as the BTYD models expect.

    ``transactions`` has one row per sale, return or refund line (or per order) with a signed net
    ``monetary_value_col``; rows with no customer id (anonymous sales) are ignored, and so are rows after
    ``observation_end`` (a ``date`` includes that whole day; a ``datetime`` is an instant, naive meaning
    UTC). Calendar days are taken in ``timezone_name`` (the shop's own days; naive datetimes are UTC).
    A day that nets to zero or less is no purchase occasion, but its returns and refunds still lower
    ``total_spend`` (net spend; ``monetary_value`` keeps lifetimes' definition, repeat occasions only).
    With ``order_id_col`` every line counts on the day its order was first seen, so a refund booked weeks
    later reduces the order it belongs to instead of standing alone.
    With ``monetary_value_col=None`` every day with a transaction is an occasion and no spend columns are
    returned. Cancelled orders are the caller's to leave out. The result has the same kind as the input
    (DataFrame, LazyFrame or Arrow table), sorted by customer id; customers with no purchase occasion up
    to ``observation_end`` are absent. For a DataFrame or Arrow table, an ``observation_end`` before every
    transaction raises :class:`ValidationFailed`; a LazyFrame is not scanned for that check.
    """
    lf, kind = _as_lazy(transactions)
    # Multiply by the reciprocal, never divide: Polars divides a column by a scalar exactly for some rows
    # and through the reciprocal for others, so equal ages could differ by 1 ulp and split in compress().
    per_day = 1.0 / _unit_days(time_unit)
    schema = lf.collect_schema()
    needed = [customer_id_col, datetime_col] + [c for c in (monetary_value_col, order_id_col) if c]
    require_columns(schema, needed, table="transactions")
    ts_dtype = schema[datetime_col]
    if not isinstance(ts_dtype, (pl.Datetime, pl.Date)):
        raise ValidationFailed(
            f"column {datetime_col!r} must hold dates or datetimes, not {ts_dtype}", field=datetime_col
        )
    if monetary_value_col and not schema[monetary_value_col].is_numeric():
        raise ValidationFailed(
            f"column {monetary_value_col!r} must hold numbers, not {schema[monetary_value_col]}",
            field=monetary_value_col,
        )

    cid = customer_id_col
    in_window, obs_day = _window(ts_dtype, datetime_col, observation_end, timezone_name)
    rows = lf.filter(pl.col(cid).is_not_null() & pl.col(datetime_col).is_not_null())
    if kind != "lazy":
        _check_observation_end(rows, in_window, datetime_col, observation_end)
    rows = rows.filter(in_window)

    if order_id_col:  # each line counts when its order was first seen
        starts = rows.group_by(cid, order_id_col).agg(pl.col(datetime_col).min().alias("_order_start"))
        rows = rows.join(starts, on=[cid, order_id_col], how="left")
        started = pl.coalesce(pl.col("_order_start"), pl.col(datetime_col))  # no order id: its own time
        day = _day_expr(started, ts_dtype, timezone_name)
    else:
        day = _day_expr(pl.col(datetime_col), ts_dtype, timezone_name)

    net = [pl.col(monetary_value_col).sum().alias(_NET)] if monetary_value_col else []
    occasions = _occasions(rows.with_columns(day.alias(_DAY)), cid, net, schema[cid])
    # Occasions come sorted by customer and day. A day netting to zero or less (returns, refunds) is no
    # purchase, but stays in the table so that its amount still lowers total spend; the gap to the previous
    # *purchase* and the amount of every purchase but the first are columns made with shift() and
    # forward_fill() over the purchases, so one group-by over one pass gives every aggregate.
    # (Per-group sorts inside the aggregation, a rank window, a self-join, or a second pass over the
    # occasions for the refund days each cost more.)
    if monetary_value_col:
        bought = pl.col(_NET) > 0
        previous_day = pl.when(bought).then(pl.col(_DAY)).shift(1).forward_fill()
        previous_cid = pl.when(bought).then(pl.col(cid)).shift(1).forward_fill()
    else:
        bought = pl.lit(True)
        previous_day, previous_cid = pl.col(_DAY).shift(1), pl.col(cid).shift(1)
    repeat = bought & (pl.col(cid) == previous_cid)
    occasions = occasions.with_columns(
        bought.alias(_BOUGHT),
        pl.when(repeat).then((pl.col(_DAY) - previous_day).dt.total_days()).alias(_GAP),
        *([pl.when(repeat).then(pl.col(_NET)).alias(_REPEAT)] if monetary_value_col else []),
    )
    purchase_day = pl.when(pl.col(_BOUGHT)).then(pl.col(_DAY))
    out = occasions.group_by(cid).agg(
        purchase_day.min().alias("first_purchase"),
        purchase_day.max().alias("last_purchase"),
        pl.col(_BOUGHT).sum().cast(pl.Int64).alias("purchases"),
        *([pl.col(_NET).sum().alias("total_spend"), pl.col(_REPEAT).cast(pl.Float64).mean().alias("monetary_value")]
          if monetary_value_col else []),
        (pl.col(_GAP).std() * per_day).alias("gap_std"),
    ).filter(pl.col("purchases") > 0).sort(cid)  # sorted before the arithmetic: bit-identical run to run

    span = (pl.col("last_purchase") - pl.col("first_purchase")).dt.total_days()
    age = (pl.lit(obs_day, dtype=pl.Date) - pl.col("first_purchase")).dt.total_days()
    frequency = pl.col("purchases") - 1
    out = out.with_columns(
        frequency.alias("frequency"),
        (span * per_day).alias("recency"),
        (age * per_day).alias("T"),
        pl.when(frequency > 0).then(span / frequency * per_day).otherwise(None).alias("mean_gap"),
    )
    spend = ("monetary_value", "total_spend")
    columns = [cid, *(c for c in SUMMARY_COLUMNS if monetary_value_col or c not in spend)]
    if monetary_value_col:
        out = out.with_columns(pl.col("monetary_value").fill_null(0.0))
    return _restore(out.select(columns), kind)


def _occasions(rows: pl.LazyFrame, cid: str, net: list[pl.Expr], cid_dtype: pl.DataType) -> pl.LazyFrame:
    """One row per (customer, day) with the summed amounts, sorted by customer and day.

    With integer customer ids in [0, 2^46) and days within 2^16 of 1970-01-01 (1790 to 2149), the pair is
    packed into one Int64 key, cid * 2^17 + (day + 2^16), and unpacked after the group-by and sort:
    grouping and sorting on one integer is several times faster and leaner than on two columns (10 million
    orders: ~1.6 s and 0.85 GB instead of ~4.8 s and 1.3 GB). Whether the data qualify is decided inside
    the plan, so the rows are read once; otherwise (or with other id types) the general two-column plan
    runs, and gives the same table.
    """
    columns = [cid, _DAY, *([_NET] if net else [])]
    if not cid_dtype.is_integer():
        return rows.group_by(cid, _DAY).agg(net).sort(cid, _DAY).select(columns)
    day_i = pl.col(_DAY).cast(pl.Int32)
    packable = ((pl.col(cid).min() >= 0) & (pl.col(cid).max() < _PACK_ID_LIMIT)
                & (day_i.min() >= -_PACK_DAY_OFFSET) & (day_i.max() < _PACK_DAY_OFFSET))
    key = (pl.col(cid).cast(pl.Int64) * _PACK_DAYS + (day_i + _PACK_DAY_OFFSET).cast(pl.Int64)).alias(_KEY)
    packed = (
        rows.filter(packable).group_by(key).agg(net).sort(_KEY)
        .with_columns((pl.col(_KEY) // _PACK_DAYS).cast(cid_dtype).alias(cid),
                      (pl.col(_KEY) % _PACK_DAYS - _PACK_DAY_OFFSET).cast(pl.Int32).cast(pl.Date).alias(_DAY))
        .select(columns)
    )
    fallback = rows.filter(~packable).group_by(cid, _DAY).agg(net).sort(cid, _DAY).select(columns)
    return pl.concat([packed, fallback])  # one of the two is empty


def compress(
    summary: Table,
    *,
    frequency_col: str = "frequency",
    recency_col: str = "recency",
    T_col: str = "T",  # noqa: N803 - the literature's name
) -> Table:
    """Distinct (frequency, recency, T) rows with a ``count``: all a BTYD model fit needs, however many customers."""
    lf, kind = _as_lazy(summary)
    cols = [frequency_col, recency_col, T_col]
    require_columns(lf.collect_schema(), cols, table="summary")
    out = lf.group_by(cols).agg(pl.len().cast(pl.Int64).alias("count")).sort(cols)
    return _restore(out, kind)


def require_columns(schema: pl.Schema, columns: list[str], *, table: str) -> None:
    """Raise :class:`ValidationFailed` naming the first column the table lacks."""
    for col in columns:
        if col not in schema:
            have = ", ".join(schema.names()) or "none"
            raise ValidationFailed(f"the {table} table has no column {col!r} (it has: {have})", field=col)


def _as_lazy(table: pl.DataFrame | pl.LazyFrame | pa.Table) -> tuple[pl.LazyFrame, str]:
    """A LazyFrame over any supported table, and which kind to give back."""
    if isinstance(table, pl.LazyFrame):
        return table, "lazy"
    if isinstance(table, pl.DataFrame):
        return table.lazy(), "polars"
    arrow = sys.modules.get("pyarrow")  # not imported means the table cannot be an Arrow table
    if arrow is not None and isinstance(table, arrow.Table):
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame.lazy(), "arrow"
    raise ValidationFailed(
        f"expected a Polars DataFrame/LazyFrame or an Arrow table, not {type(table).__name__}", field="table"
    )


def _restore(lf: pl.LazyFrame, kind: str) -> Any:
    """Give the result back as the kind of table that came in."""
    if kind == "lazy":
        return lf
    frame = lf.collect()
    return frame.to_arrow() if kind == "arrow" else frame


def _unit_days(time_unit: TimeUnit) -> float:
    """Days in one time unit ("D", "W" or a positive timedelta)."""
    if isinstance(time_unit, timedelta):
        if time_unit <= timedelta(0):
            raise ValidationFailed(f"time_unit must be positive, not {time_unit}", field="time_unit")
        return time_unit / timedelta(days=1)
    if time_unit == "D":
        return 1.0
    if time_unit == "W":
        return 7.0
    raise ValidationFailed(f"time_unit must be 'D', 'W' or a timedelta, not {time_unit!r}", field="time_unit")


def _day_expr(ts: pl.Expr, dtype: pl.DataType, tz: str) -> pl.Expr:
    """The calendar day of a timestamp in the shop's time zone (naive timestamps are UTC)."""
    if isinstance(dtype, pl.Date):
        return ts
    assert isinstance(dtype, pl.Datetime)
    if tz == "UTC" and dtype.time_zone in (None, "UTC"):  # already UTC wall times: skip a costly conversion
        return ts.dt.date()
    if dtype.time_zone is None:
        ts = ts.dt.replace_time_zone("UTC")
    return ts.dt.convert_time_zone(tz).dt.date()


def _window(dtype: pl.DataType, col: str, end: date | datetime, tz: str) -> tuple[pl.Expr, date]:
    """The filter keeping rows up to ``end``, and the calendar day T is measured to."""
    if isinstance(end, datetime):
        instant = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
        end_day = pl.select(pl.lit(instant).dt.convert_time_zone(tz).dt.date()).item()
        if isinstance(dtype, pl.Date):
            return pl.col(col) <= end_day, end_day
        assert isinstance(dtype, pl.Datetime)
        if dtype.time_zone is None:  # naive data are UTC wall times
            naive = instant.astimezone(timezone.utc).replace(tzinfo=None)
            return pl.col(col) <= pl.lit(naive, dtype=pl.Datetime(dtype.time_unit)), end_day
        return pl.col(col) <= pl.lit(instant).dt.convert_time_zone(dtype.time_zone), end_day
    if not isinstance(end, date):
        raise ValidationFailed(
            f"observation_end must be a date or datetime, not {type(end).__name__}", field="observation_end"
        )
    if tz == "UTC" and isinstance(dtype, pl.Datetime) and dtype.time_zone in (None, "UTC"):
        # the same rows as "day <= end", compared as instants (no day computed per row)
        next_midnight = datetime.combine(end + timedelta(days=1), datetime.min.time())
        bound = pl.lit(next_midnight, dtype=pl.Datetime(dtype.time_unit))
        return pl.col(col) < (bound if dtype.time_zone is None else bound.dt.replace_time_zone("UTC")), end
    return _day_expr(pl.col(col), dtype, tz) <= end, end


def _check_observation_end(rows: pl.LazyFrame, in_window: pl.Expr, col: str, end: date | datetime) -> None:
    """Refuse an observation end before every transaction: the summary would silently be empty."""
    counts = rows.select(pl.len().alias("all"), in_window.sum().alias("kept"), pl.col(col).min().alias("first"))
    row = counts.collect().row(0, named=True)
    if row["all"] and not row["kept"]:
        raise ValidationFailed(
            f"observation_end {end.isoformat()} is before the first transaction ({row['first']})",
            field="observation_end",
        )
