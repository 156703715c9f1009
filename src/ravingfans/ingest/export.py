"""Export customers, orders and interactions to CSV, Parquet or XLSX, streamed in batches.

Rows are read in batches from one consistent snapshot and written as they come, so memory stays
bounded however large the ledger. Money is exact (decimal in CSV and Parquet, a 0.00-formatted
number in XLSX); times are ISO 8601 with the offset of the business time zone (typed timestamps in
Parquet). Text that a spreadsheet could read as a formula is neutralised in CSV and XLSX with a
leading single quote (OWASP "CSV injection"); Parquet keeps every value exactly.

Ids join the files: ``customer_id`` is the ravingfans customer number in all three exports, and
``referred_by`` in the customers export is the referrer's number.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal, Protocol, cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, Select, select

from ravingfans.db.models import (
    RATING_NAMES,
    Consent,
    Customer,
    CustomerIdentity,
    Employee,
    Interaction,
    Order,
    OrderLine,
)
from ravingfans.errors import ValidationFailed

ExportKind = Literal["customers", "orders", "interactions"]
ExportFormat = Literal["csv", "parquet", "xlsx"]
EXPORT_KINDS: tuple[ExportKind, ...] = get_args(ExportKind)
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)
ColumnType = Literal["text", "phone", "int", "money", "timestamp", "date", "bool"]

# OWASP CSV injection: a cell starting with one of these may be run as a formula by a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_RISKY_START = "^[-=+@\t\r]"
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_XLSX_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")
XLSX_MAX_ROWS = 1_048_576
DEFAULT_BATCH_SIZE = 5_000
_PARQUET_ROW_GROUP = 65_536
MONEY_TYPE = pa.decimal128(18, 2)


def neutralize(value: str) -> str:
    """The text with a leading ' when a spreadsheet could take it for a formula; else unchanged."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


@dataclass(frozen=True)
class ExportColumn:
    """One column of an export: its header and the type that decides how each format writes it."""

    name: str
    type: ColumnType = "text"


def _columns(spec: str) -> tuple[ExportColumn, ...]:
    """Columns from 'name:type name ...' (type defaults to text)."""
    out = []
    for item in spec.split():
        name, _, kind = item.partition(":")
        the_type = kind or "text"
        if the_type not in get_args(ColumnType):
            raise ValueError(f"unknown column type {the_type!r}")
        out.append(ExportColumn(name, cast(ColumnType, the_type)))
    return tuple(out)


CUSTOMER_COLUMNS = _columns(
    "customer_id:int first_name last_name email phone:phone address_line1 address_line2 city region "
    "postal_code country birthday:date language email_consent:bool consents tags likes dislikes sizes "
    "personal_details attributes notes referred_by:int source external_id source_ids "
    "created_at:timestamp updated_at:timestamp"
)
ORDER_COLUMNS = _columns(
    "order_id source ordered_at:timestamp status cancelled_at:timestamp customer_id:int email customer_name "
    "employee channel location line_no:int sku product_name kind quantity:int unit_price:money "
    "discount:money amount:money"
)
INTERACTION_COLUMNS = _columns(
    "occurred_at:timestamp customer_id:int customer_name employee channel kind rating note"
)
COLUMNS: dict[ExportKind, tuple[ExportColumn, ...]] = {
    "customers": CUSTOMER_COLUMNS,
    "orders": ORDER_COLUMNS,
    "interactions": INTERACTION_COLUMNS,
}


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: how many rows of which kind, in which format, where ('-' is stdout)."""

    kind: ExportKind
    format: ExportFormat
    rows: int
    target: str

    def summary(self) -> str:
        """One line a person reads."""
        where = "standard output" if self.target == "-" else self.target
        noun = {"customers": "customer", "orders": "order line", "interactions": "interaction"}[self.kind]
        return f"Exported {self.rows} {noun}{'' if self.rows == 1 else 's'} as {self.format} to {where}."


def default_filename(kind: ExportKind, fmt: ExportFormat) -> str:
    """Where an export goes when no path is given: ``<kind>.<ext>`` in the working directory."""
    return f"{kind}.{fmt}"


def export(
    engine: Engine,
    kind: str,
    fmt: str,
    out: str | Path | BinaryIO | None = None,
    *,
    zone: ZoneInfo | str = "UTC",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ExportResult:
    """Write every ``kind`` row to ``out`` (a path, '-' for stdout with CSV, or a binary stream).

    A file is written beside its final name and moved into place when complete, so a failed export
    never leaves half a file. Raises ValidationFailed for an unknown kind or format or a bad path.
    """
    if kind not in EXPORT_KINDS:
        raise ValidationFailed(f"Unknown export {kind!r}; choose one of {', '.join(EXPORT_KINDS)}.", field="kind")
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed(f"Unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}.", field="format")
    if batch_size < 1:
        raise ValidationFailed("batch_size must be at least 1.", field="batch_size")
    try:
        tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"Unknown time zone {zone!r}; use an IANA name such as 'Europe/Berlin'.",
                               field="zone") from None
    columns = COLUMNS[kind]
    if out is None:
        out = default_filename(kind, fmt)

    if isinstance(out, str | Path) and str(out) == "-":
        if fmt != "csv":
            raise ValidationFailed(f"Only CSV can be written to standard output; give --out for {fmt}.",
                                   field="out")
        sys.stdout.flush()
        rows = _run(engine, kind, fmt, columns, sys.stdout.buffer, tz, batch_size)
        sys.stdout.buffer.flush()
        return ExportResult(kind, fmt, rows, "-")
    if not isinstance(out, str | Path):
        rows = _run(engine, kind, fmt, columns, out, tz, batch_size)
        return ExportResult(kind, fmt, rows, "<stream>")

    path = Path(out)
    if path.is_dir():
        raise ValidationFailed(f"{path} is a directory; give a file name.", field="out")
    if not path.parent.is_dir():
        raise ValidationFailed(f"Cannot write {path}: folder {path.parent} does not exist.", field="out")
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with open(partial, "wb") as stream:
            rows = _run(engine, kind, fmt, columns, stream, tz, batch_size)
        os.replace(partial, path)
    except OSError as exc:
        raise ValidationFailed(f"Cannot write {path}: {exc.strerror or exc}.", field="out") from None
    finally:
        partial.unlink(missing_ok=True)
    return ExportResult(kind, fmt, rows, str(path))


def _run(engine: Engine, kind: ExportKind, fmt: ExportFormat, columns: Sequence[ExportColumn],
         stream: BinaryIO, zone: ZoneInfo, batch_size: int) -> int:
    """Stream every batch of ``kind`` rows into a writer for ``fmt``; the number of rows."""
    writer = _WRITERS[fmt](stream, columns, zone, kind)
    total = 0
    with _snapshot(engine) as conn:
        for batch in _SOURCES[kind](conn, batch_size):
            writer.write(batch)
            total += len(batch)
    writer.close()
    return total


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction, so every batch sees the same data (REPEATABLE READ on PostgreSQL)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


# ---------------------------------------------------------------------------------------------
# Sources: each yields lists of row tuples in its columns' order, with Python values
# (str, int, Decimal, bool, date, aware datetime, or None).

Row = tuple[Any, ...]


def _streamed(conn: Connection, stmt: Select[Any], batch_size: int) -> Iterator[Sequence[Any]]:
    """The statement's rows in partitions of ``batch_size``, from a server-side cursor where possible."""
    result = conn.execution_options(yield_per=batch_size).execute(stmt)
    yield from result.partitions()


def _name(first: str | None, last: str | None, email: str | None, phone: str | None, cid: int | None) -> str | None:
    """A customer's display name from raw columns; None when there is no customer."""
    if cid is None:
        return None
    name = " ".join(p for p in (first, last) if p)
    return name or email or phone or f"Customer #{cid}"


def _joined(values: Any) -> str | None:
    """A list as 'a; b; c' (None when empty)."""
    if not values:
        return None
    return "; ".join(str(v) for v in values)


def _pairs(mapping: Any) -> str | None:
    """A mapping as 'shoe=42; shirt=M' (None when empty)."""
    if not mapping:
        return None
    return "; ".join(f"{key}={value}" for key, value in mapping.items())


def _json(value: Any) -> str | None:
    """A mapping as compact JSON with sorted keys (None when empty)."""
    if not value:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _customer_rows(conn: Connection, batch_size: int) -> Iterator[list[Row]]:
    """Customers by id (erased ones left out), with their source ids and latest consent per purpose and channel."""
    c = Customer.__table__.c
    ident = CustomerIdentity.__table__.c
    cons = Consent.__table__.c
    after = 0
    while True:
        batch = conn.execute(select(Customer.__table__).where(c.id > after, c.erased_at.is_(None))
                             .order_by(c.id).limit(batch_size)).all()
        if not batch:
            return
        low, high = batch[0].id, batch[-1].id
        ids: dict[int, list[str]] = {}
        for cid, source, external_id in conn.execute(
            select(ident.customer_id, ident.source, ident.external_id)
            .where(ident.customer_id.between(low, high))
            .order_by(ident.customer_id, ident.source, ident.external_id)
        ):
            ids.setdefault(cid, []).append(f"{source}:{external_id}")
        consents: dict[int, dict[tuple[str, str], bool]] = {}
        for cid, purpose, channel, granted in conn.execute(
            select(cons.customer_id, cons.purpose, cons.channel, cons.granted)
            .where(cons.customer_id.between(low, high))
            .order_by(cons.customer_id, cons.at, cons.id)
        ):
            consents.setdefault(cid, {})[(purpose, channel)] = granted
        rows: list[Row] = []
        for r in batch:
            state = consents.get(r.id, {})
            rows.append((
                r.id, r.first_name, r.last_name, r.email, r.phone, r.address_line1, r.address_line2, r.city,
                r.region, r.postal_code, r.country, r.birthday, r.language, r.email_consent,
                "; ".join(f"{p}:{ch}={'granted' if ok else 'withdrawn'}" for (p, ch), ok in sorted(state.items()))
                or None,
                _joined(r.tags), _joined(r.likes), _joined(r.dislikes), _pairs(r.sizes), _json(r.personal_details),
                _json(r.attributes), r.notes, r.referred_by_id, r.source, r.external_id,
                _joined(ids.get(r.id)), r.created_at, r.updated_at,
            ))
        yield rows
        after = high


def _order_rows(conn: Connection, batch_size: int) -> Iterator[list[Row]]:
    """One row per order line (an order without lines gives one row with empty line fields), by time."""
    o, line = Order.__table__.c, OrderLine.__table__.c
    c, e = Customer.__table__.c, Employee.__table__.c
    stmt = (
        select(o.external_id, o.source, o.placed_at, o.financial_status, o.cancelled_at, o.customer_id, c.email,
               c.first_name, c.last_name, c.phone, e.name, o.channel, o.location, line.line_no, line.sku,
               line.product_name, line.kind, line.quantity, line.unit_price, line.discount, line.amount)
        .select_from(Order.__table__)
        .outerjoin(OrderLine.__table__, line.order_id == o.id)
        .outerjoin(Customer.__table__, c.id == o.customer_id)
        .outerjoin(Employee.__table__, e.id == o.employee_id)
        .order_by(o.placed_at, o.id, line.line_no)
    )
    for part in _streamed(conn, stmt, batch_size):
        yield [
            (ext, src, placed, status, cancelled, cid, email, _name(first, last, email, phone, cid), employee,
             channel, location, line_no, sku, product, kind, qty, unit_price, discount, amount)
            for (ext, src, placed, status, cancelled, cid, email, first, last, phone, employee, channel, location,
                 line_no, sku, product, kind, qty, unit_price, discount, amount) in part
        ]


def _interaction_rows(conn: Connection, batch_size: int) -> Iterator[list[Row]]:
    """Every moment of truth, by time, with the customer's and the employee's names."""
    i, c, e = Interaction.__table__.c, Customer.__table__.c, Employee.__table__.c
    stmt = (
        select(i.occurred_at, i.customer_id, c.first_name, c.last_name, c.email, c.phone, e.name, i.channel,
               i.kind, i.rating, i.note)
        .select_from(Interaction.__table__)
        .outerjoin(Customer.__table__, c.id == i.customer_id)
        .outerjoin(Employee.__table__, e.id == i.employee_id)
        .order_by(i.occurred_at, i.id)
    )
    for part in _streamed(conn, stmt, batch_size):
        yield [
            (at, cid, _name(first, last, email, phone, cid), employee, channel, kind,
             None if rating is None else RATING_NAMES.get(rating, str(rating)), note)
            for at, cid, first, last, email, phone, employee, channel, kind, rating, note in part
        ]


_SOURCES: dict[ExportKind, Callable[[Connection, int], Iterator[list[Row]]]] = {
    "customers": _customer_rows,
    "orders": _order_rows,
    "interactions": _interaction_rows,
}


# ---------------------------------------------------------------------------------------------
# Writers: one per format, each taking batches of row tuples.


class _Writer(Protocol):
    """Something that takes batches of rows and finishes the file on close."""

    def write(self, rows: Sequence[Row]) -> None: ...

    def close(self) -> None: ...


def _text_renderer(clean: bool) -> Callable[[Any], str | None]:
    """A renderer of text for CSV or XLSX: neutralised against formula injection (after cleaning)."""
    def render(value: Any) -> str | None:
        if value is None:
            return None
        text = _XLSX_ILLEGAL.sub("", str(value)) if clean else str(value)
        return neutralize(text)
    return render


def _phone_renderer(clean: bool) -> Callable[[Any], str | None]:
    """A renderer of phone numbers: a well-formed E.164 number is safe as it is; anything else is text."""
    text = _text_renderer(clean)

    def render(value: Any) -> str | None:
        if isinstance(value, str) and _E164.fullmatch(value):
            return value
        return text(value)
    return render


def _bool_cell(value: Any) -> str | None:
    """yes / no, as the import reads them."""
    return None if value is None else ("yes" if value else "no")


def _iso(zone: ZoneInfo) -> Callable[[Any], str | None]:
    """A renderer of aware datetimes as ISO 8601 in ``zone`` with its offset."""
    def render(value: Any) -> str | None:
        return None if value is None else value.astimezone(zone).isoformat()
    return render


def _date_cell(value: Any) -> str | None:
    """A date as YYYY-MM-DD."""
    return None if value is None else value.isoformat()


def _same(value: Any) -> Any:
    """The value unchanged."""
    return value


def _spreadsheet_renderers(columns: Sequence[ExportColumn], zone: ZoneInfo, *,
                           clean: bool = False) -> list[Callable[[Any], Any]]:
    """Per column, how a value becomes a CSV or XLSX cell (text neutralised, times as ISO strings).

    ``clean`` drops the control characters XLSX cannot hold, before neutralising.
    """
    by_type: dict[ColumnType, Callable[[Any], Any]] = {
        "text": _text_renderer(clean), "phone": _phone_renderer(clean), "int": _same, "money": _same,
        "timestamp": _iso(zone), "date": _date_cell, "bool": _bool_cell,
    }
    return [by_type[column.type] for column in columns]


def neutralize_array(values: pa.Array, *, keep_e164: bool = False) -> pa.Array:
    """:func:`neutralize` over an Arrow string array at C speed (E.164 numbers kept if asked)."""
    risky = pc.match_substring_regex(values, _RISKY_START)
    if keep_e164:
        risky = pc.and_(risky, pc.invert(pc.match_substring_regex(values, "^" + _E164.pattern + "$")))
    return pc.if_else(risky, pc.binary_join_element_wise("'", values, ""), values)


class _CsvWriter:
    """CSV through pyarrow's streaming writer: UTF-8, header row, money as exact decimals."""

    _ARROW: ClassVar[dict[ColumnType, pa.DataType]] = {"int": pa.int64(), "money": MONEY_TYPE}

    def __init__(self, stream: BinaryIO, columns: Sequence[ExportColumn], zone: ZoneInfo, kind: str) -> None:
        self._schema = pa.schema([(c.name, self._ARROW.get(c.type, pa.string())) for c in columns])
        self._types = [c.type for c in columns]
        self._render = _spreadsheet_renderers(columns, zone)
        self._writer = pa_csv.CSVWriter(stream, self._schema)

    def write(self, rows: Sequence[Row]) -> None:
        """Append one batch."""
        if not rows:
            return
        arrays = []
        for kind, render, values, field in zip(self._types, self._render, zip(*rows, strict=True), self._schema,
                                               strict=True):
            if kind in ("text", "phone"):
                text = pa.array([None if v is None else str(v) for v in values], type=pa.string())
                arrays.append(neutralize_array(text, keep_e164=kind == "phone"))
            else:
                arrays.append(pa.array([render(v) for v in values], type=field.type))
        self._writer.write_batch(pa.record_batch(arrays, schema=self._schema))

    def close(self) -> None:
        """Finish the file (the header is written even when there are no rows)."""
        self._writer.close()


class _ParquetWriter:
    """Parquet with typed columns: exact decimals, zoned timestamps, dates, booleans; no neutralising."""

    def __init__(self, stream: BinaryIO, columns: Sequence[ExportColumn], zone: ZoneInfo, kind: str) -> None:
        types: dict[ColumnType, pa.DataType] = {
            "text": pa.string(), "phone": pa.string(), "int": pa.int64(), "money": MONEY_TYPE,
            "timestamp": pa.timestamp("us", tz=str(zone)), "date": pa.date32(), "bool": pa.bool_(),
        }
        self._schema = pa.schema([(c.name, types[c.type]) for c in columns])
        self._writer = pq.ParquetWriter(stream, self._schema, compression="zstd")
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def write(self, rows: Sequence[Row]) -> None:
        """Append one batch (row groups are gathered to a sensible size first)."""
        if not rows:
            return
        arrays = [pa.array(list(values), type=field.type)
                  for values, field in zip(zip(*rows, strict=True), self._schema, strict=True)]
        self._pending.append(pa.record_batch(arrays, schema=self._schema))
        self._pending_rows += len(rows)
        if self._pending_rows >= _PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        """Write the gathered batches as one row group."""
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending, schema=self._schema))
            self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        """Write what is left and the footer."""
        self._flush()
        self._writer.close()


class _XlsxWriter:
    """XLSX in openpyxl's write-only mode; a full sheet continues on a new one with the header again."""

    def __init__(self, stream: BinaryIO, columns: Sequence[ExportColumn], zone: ZoneInfo, kind: str) -> None:
        from openpyxl import Workbook

        self._stream = stream
        self._kind = kind
        self._header = [c.name for c in columns]
        self._render = _spreadsheet_renderers(columns, zone, clean=True)
        self._money = [i for i, c in enumerate(columns) if c.type == "money"]
        self._book = Workbook(write_only=True)
        self._sheets = 0
        self._sheet: Any = None
        self._rows_in_sheet = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        """Start a sheet (kind, kind_2, ...) with the header row."""
        self._sheets += 1
        title = self._kind if self._sheets == 1 else f"{self._kind}_{self._sheets}"
        self._sheet = self._book.create_sheet(title)
        self._sheet.append(self._header)
        self._rows_in_sheet = 1

    def write(self, rows: Sequence[Row]) -> None:
        """Append one batch."""
        from openpyxl.cell import WriteOnlyCell

        for row in rows:
            if self._rows_in_sheet >= XLSX_MAX_ROWS:
                self._new_sheet()
            cells: list[Any] = [render(v) for render, v in zip(self._render, row, strict=True)]
            for i in self._money:
                if cells[i] is not None:
                    cell = WriteOnlyCell(self._sheet, value=cells[i])
                    cell.number_format = "0.00"
                    cells[i] = cell
            self._sheet.append(cells)
            self._rows_in_sheet += 1

    def close(self) -> None:
        """Save the workbook to the stream."""
        self._book.save(self._stream)


_WRITERS: dict[ExportFormat, Callable[[BinaryIO, Sequence[ExportColumn], ZoneInfo, str], _Writer]] = {
    "csv": _CsvWriter,
    "parquet": _ParquetWriter,
    "xlsx": _XlsxWriter,
}

__all__ = [
    "COLUMNS",
    "EXPORT_FORMATS",
    "EXPORT_KINDS",
    "FORMULA_PREFIXES",
    "ExportColumn",
    "ExportFormat",
    "ExportKind",
    "ExportResult",
    "default_filename",
    "export",
    "neutralize",
    "neutralize_array",
]
