"""Staging tables: validated rows land in a per-connection TEMPORARY table before the merge.

A temporary table keeps memory bounded however large the file is, holds no lock on the real
tables while the file is read, and disappears by itself if the process dies. The bulk paths are
the databases' own: ``executemany`` into SQLite, ``COPY`` into PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence

import polars as pl
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from ravingfans.ingest.layouts import FIELDS, Kind

STAGE_TABLE = {"customers": "stg_customers", "products": "stg_products", "orders": "stg_orders"}

_SQL_TYPES = {
    "text": Text, "email": Text, "phone": Text, "country": Text, "date": Date,
    "datetime": DateTime(timezone=True), "money": BigInteger, "int": BigInteger, "posint": BigInteger,
    "bool": Boolean, "list": JSON, "mapping": JSON,
}

# Columns each kind's staging table has beyond its canonical fields.
_EXTRA: dict[Kind, list[Column]] = {
    "customers": [Column("row_hash", BigInteger)],
    "products": [Column("row_hash", BigInteger)],
    "orders": [Column("amount", BigInteger), Column("line_hash", BigInteger), Column("header_hash", BigInteger)],
}

HASH_BITS = 40  # small enough that an order's summed line hashes never overflow a BIGINT


def stage_table(kind: Kind) -> Table:
    """The TEMPORARY staging table for ``kind`` (src_row + canonical fields + hashes)."""
    meta = MetaData()
    cols: list[Column] = [Column("src_row", Integer, primary_key=True)]
    for name, type_name in FIELDS[kind].items():
        sql_type = String if type_name.startswith("choice:") else _SQL_TYPES[type_name]
        cols.append(Column(name, sql_type))
    cols.extend(Column(c.name, c.type) for c in _EXTRA[kind])
    return Table(STAGE_TABLE[kind], meta, *cols, prefixes=["TEMPORARY"])


def sku_table() -> Table:
    """The TEMPORARY table of the orders' SKUs with their product names, gathered while staging (SQLite)."""
    return Table("stg_skus", MetaData(), Column("sku", Text, primary_key=True), Column("name", Text),
                 prefixes=["TEMPORARY"])


def stable_hash(values: pl.Series) -> pl.Series:
    """A 40-bit content hash per string, stable across processes and library versions (BLAKE2b).

    Polars' own hash is faster but may change between releases, which would make every order look
    changed after an upgrade; so each distinct string is hashed once here instead.
    """
    distinct = values.unique()
    digests = [int.from_bytes(hashlib.blake2b(v.encode("utf-8"), digest_size=5).digest(), "big")
               for v in distinct.to_list()]
    mapping = pl.DataFrame({"v": distinct, "h": pl.Series(digests, dtype=pl.Int64)})
    joined = pl.DataFrame({"v": values}).join(mapping, on="v", how="left", maintain_order="left")
    return joined["h"].alias(values.name)


def row_text(frame: pl.DataFrame, columns: Sequence[str]) -> pl.Series:
    """The given columns joined into one string per row (nulls marked), as input to stable_hash."""
    parts = [frame[c].cast(pl.String).fill_null("\x00") for c in columns]
    return pl.select(pl.concat_str(parts, separator="\x1f")).to_series()


def load(conn: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Append ``frame`` (columns named like the table's) to the staging table, by the bulk path."""
    names = [c.name for c in table.columns if c.name in frame.columns]  # absent columns stay NULL
    frame = frame.select(names)
    if conn.dialect.name == "postgresql":
        _copy_pg(conn, table, frame)
    else:
        _insert_sqlite(conn, table, frame)


def _sqlite_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates and times as the text SQLAlchemy's SQLite types store; booleans as 0/1."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            exprs.append(col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
                         .dt.strftime("%Y-%m-%d %H:%M:%S%.6f").alias(name))
        elif dtype == pl.Date:
            exprs.append(col.dt.strftime("%Y-%m-%d").alias(name))
        elif dtype == pl.Boolean:
            exprs.append(col.cast(pl.Int64).alias(name))
        else:
            exprs.append(col)
    return frame.select(exprs)


def _insert_sqlite(conn: Connection, table: Table, frame: pl.DataFrame) -> None:
    names = frame.columns
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, _sqlite_ready(frame).iter_rows())
    finally:
        cursor.close()


def _copy_pg(conn: Connection, table: Table, frame: pl.DataFrame) -> None:
    exprs = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            exprs.append(pl.col(name).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00").alias(name))
        else:
            exprs.append(pl.col(name))
    buffer = io.BytesIO()
    frame.select(exprs).write_csv(buffer, include_header=False, null_value="", quote_style="non_numeric")
    names = ", ".join(frame.columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
    finally:
        cursor.close()
