"""The order ledger as an analytics table: from the database, or from an orders file (CSV or Parquet).

Both give one row per order with ``customer_id``, ``order_id``, ``timestamp`` (UTC) and ``amount`` (net of
returns and refunds, in the business currency as a float), which is what
:func:`ravingfans.analytics.summary.customer_summary` reads. Cancelled orders and sales with no customer
are left out, and so are the orders of erased customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import polars as pl

from ravingfans.errors import ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy import Engine

TRANSACTION_COLUMNS = ("customer_id", "order_id", "timestamp", "amount")


def load_transactions(engine: Engine) -> pl.DataFrame:
    """Every non-cancelled order of a known, not erased customer, with its net amount, read in one query."""
    # Imported here: reading a file (`analyze`) needs no database layer and should start fast.
    from sqlalchemy import BigInteger, func, select, type_coerce

    from ravingfans.db.models import Customer, Order, OrderLine
    from ravingfans.db.types import MONEY_SCALE

    amount = func.coalesce(func.sum(type_coerce(OrderLine.__table__.c.amount, BigInteger)), 0)  # raw cents, no Decimal
    erased = select(Customer.__table__.c.id).where(Customer.__table__.c.erased_at.is_not(None))
    query = (
        select(Order.__table__.c.customer_id, Order.__table__.c.id.label("order_id"),
               Order.__table__.c.placed_at.label("timestamp"), amount.label("cents"))
        .select_from(Order.__table__.outerjoin(OrderLine.__table__))
        .where(Order.__table__.c.customer_id.is_not(None), Order.__table__.c.cancelled_at.is_(None),
               Order.__table__.c.customer_id.not_in(erased))  # erased customers are not scored (services/erasure)
        .group_by(Order.__table__.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pl.DataFrame(
        rows, schema={"customer_id": pl.Int64, "order_id": pl.Int64, "timestamp": pl.Datetime("us", "UTC"),
                      "cents": pl.Int64},
        orient="row",
    )
    return frame.select(
        "customer_id", "order_id", "timestamp",
        (pl.col("cents").cast(pl.Float64) / 10**MONEY_SCALE).alias("amount"),
    )


@dataclass(frozen=True)
class FileColumns:
    """Which columns of an orders file hold the customer, the time and the amount (and optionally the order)."""

    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    amount: str = "amount"
    order_id: str | None = None


PARQUET_SUFFIXES = (".parquet", ".pq")
"""File names ending so are read (and written) as Parquet; others as CSV."""


def read_transactions_file(path: Path, columns: FileColumns = FileColumns()) -> pl.LazyFrame:
    """A lazy scan of an orders CSV or Parquet file, columns renamed to the ledger's and types checked.

    A file without the timestamp column but with a ``date`` column uses that. Values that are not dates or
    numbers are refused with the first bad row's line and value.
    """
    if not path.exists():
        raise ValidationFailed(f"There is no file {path}.", field="ORDERS_FILE")
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        lf = pl.scan_parquet(path)
    elif suffix in (".csv", ".txt", ".tsv"):
        lf = pl.scan_csv(path, separator="\t" if suffix == ".tsv" else ",", infer_schema_length=10_000,
                         try_parse_dates=True)
    else:
        raise ValidationFailed(f"{path.name}: unknown file type {suffix or '(none)'!r}.", field="ORDERS_FILE",
                               hint="Give a .csv or .parquet file.")
    try:
        schema = lf.collect_schema()
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise ValidationFailed(f"{path.name} cannot be read: {str(exc).splitlines()[0]}", field="ORDERS_FILE") \
            from None
    ts_col = columns.timestamp
    if ts_col not in schema and ts_col == "timestamp" and "date" in schema:
        ts_col = "date"
    wanted = {columns.customer_id: "customer_id", ts_col: "timestamp", columns.amount: "amount"}
    if columns.order_id:
        wanted[columns.order_id] = "order_id"
    for source, target in wanted.items():
        if source not in schema:
            have = ", ".join(schema.names())
            raise ValidationFailed(
                f"{path.name} has no column {source!r} for the {target} (it has: {have}).", field=target,
                hint=f"Name the column that holds the {target} with --{target.replace('_', '-')}-col.",
            )
    lf = lf.select([pl.col(s).alias(t) for s, t in wanted.items()])
    return _typed(lf, schema[ts_col], schema[columns.amount], path)


def _typed(lf: pl.LazyFrame, ts_dtype: pl.DataType, amount_dtype: pl.DataType, path: Path) -> pl.LazyFrame:
    """Dates and amounts parsed from text where the file kept them as text; the first bad value is named."""
    if not isinstance(ts_dtype, (pl.Datetime, pl.Date)):
        parsed = pl.col("timestamp").cast(pl.String).str.to_datetime(strict=False, time_zone="UTC")
        _refuse_first_bad(lf, parsed, "timestamp", path, "a date or an ISO 8601 date-time")
        lf = lf.with_columns(parsed.alias("timestamp"))
    if not amount_dtype.is_numeric():
        parsed = pl.col("amount").cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        _refuse_first_bad(lf, parsed, "amount", path, "a number such as 19.99")
        lf = lf.with_columns(parsed.alias("amount"))
    elif amount_dtype.is_decimal():
        lf = lf.with_columns(pl.col("amount").cast(pl.Float64))
    return lf


def _refuse_first_bad(lf: pl.LazyFrame, parsed: pl.Expr, column: str, path: Path, valid: str) -> None:
    """Raise naming the first row whose value does not parse (line numbers count the header as line 1)."""
    bad = (
        lf.with_row_index("_row")
        .filter(pl.col(column).is_not_null() & parsed.is_null())
        .select("_row", pl.col(column).cast(pl.String))
        .head(1)
        .collect()
    )
    if bad.height:
        row, value = bad.row(0)
        raise ValidationFailed(
            f"{path.name}, line {row + 2}: {column} {value!r} is not {valid}.", field=column,
            hint="Fix or remove that row and run again.",
        )
