"""Readers that stream CSV and XLSX files as batches of text columns, with bounded memory.

Encoding (UTF-8, UTF-8 with BOM, UTF-16 with BOM, Windows-1252) and delimiter (``,`` ``;`` tab
``|``) are detected; every cell arrives as a string so validation sees exactly what the file says.
CSV parsing is Apache Arrow's streaming reader (multi-threaded, handles quoted newlines); XLSX is
openpyxl's read-only mode.
"""

from __future__ import annotations

import codecs
import zipfile
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from ravingfans.errors import ImportFailed

BLOCK_SIZE = 1 << 21  # 2 MiB of CSV per batch (~12k rows): bigger blocks cost memory (allocator retention), not speed
ROW = "__row"  # 0-based index of the data row in the file, added to every batch
DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}


@dataclass
class Source:
    """A file opened for import: what it is, how it is encoded, and its header."""

    path: Path
    format: str  # "csv" or "xlsx"
    header: list[str]
    encoding: str = "utf-8"
    delimiter: str = ","
    sheet: str | None = None
    size: int = 0
    problems: list[str] = field(default_factory=list)  # rows the parser itself could not read

    def describe(self) -> str:
        """How the file was read, for the report ("UTF-8, semicolon-delimited")."""
        if self.format == "xlsx":
            return f"XLSX sheet {self.sheet!r}"
        return f"{self.encoding}, {_DELIM_NAMES[self.delimiter]}-delimited"


class _Counting(io.RawIOBase):
    """A binary file wrapper that reports bytes read, for the progress bar."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n and self._on_bytes:
            self._on_bytes(n)
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def detect_encoding(path: Path) -> str:
    """The file's encoding: a BOM decides; else strict UTF-8 if the whole file decodes; else cp1252."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(1 << 22):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        fh.seek(0)
        offset = 0
        while chunk := fh.read(1 << 22):
            bad = next((i for i, b in enumerate(chunk) if b in _CP1252_UNDEFINED), None)
            if bad is not None:
                raise ImportFailed(
                    f"{path.name} is neither UTF-8 nor Windows-1252 text (byte 0x{chunk[bad]:02X} at offset "
                    f"{offset + bad}).",
                    hint="Open it in a spreadsheet or editor and save it as 'CSV UTF-8', then import again.",
                )
            offset += len(chunk)
    return "cp1252"


def _first_record(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, newline="") as fh:
        return fh.read(1 << 16)


def open_source(path: Path, *, sheet: str | None = None) -> Source:
    """Open ``path`` for import, detecting its format, encoding, delimiter and header."""
    if not path.exists():
        raise ImportFailed(f"No such file: {path}", hint="Check the path and try again.")
    if path.is_dir():
        raise ImportFailed(f"{path} is a folder, not a file.")
    size = path.stat().st_size
    if size == 0:
        raise ImportFailed(f"{path.name} is empty.",
                           hint="Expected a header row naming the columns, then one row per record.")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK\x03\x04"):
        return _open_xlsx(path, sheet, size)
    if sheet is not None:
        raise ImportFailed(f"--sheet applies to XLSX workbooks; {path.name} is a CSV file.")
    encoding = detect_encoding(path)
    text = _first_record(path, encoding).lstrip("\ufeff")
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise ImportFailed(f"{path.name} has no header row (the first line is blank).",
                           hint="The first line must name the columns.")
    delimiter = max(DELIMITERS, key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    return Source(path=path, format="csv", header=[h.strip() for h in header], encoding=encoding,
                  delimiter=delimiter, size=size)


def _open_xlsx(path: Path, sheet: str | None, size: int) -> Source:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFailed(f"{path.name} looks like a zip/XLSX file but cannot be read as a workbook: {exc}",
                           hint="Save it again from your spreadsheet as .xlsx, or export it as CSV.") from None
    try:
        names = book.sheetnames
        if sheet is None:
            if len(names) > 1:
                raise ImportFailed(
                    f"{path.name} has {len(names)} sheets ({', '.join(names)}); ravingfans does not guess which "
                    "one holds the data.",
                    hint=f"Name one with --sheet, e.g. --sheet {names[0]!r}.",
                )
            sheet = names[0]
        elif sheet not in names:
            raise ImportFailed(f"{path.name} has no sheet {sheet!r}; its sheets are: {', '.join(names)}.")
        rows = book[sheet].iter_rows(max_row=1, values_only=True)
        first = next(rows, None)
    finally:
        book.close()
    if not first or all(v is None for v in first):
        raise ImportFailed(f"Sheet {sheet!r} of {path.name} is empty.",
                           hint="Expected a header row naming the columns in the first row.")
    header = [_cell_text(v).strip() for v in first]
    while header and not header[-1]:
        header.pop()
    return Source(path=path, format="xlsx", header=header, sheet=sheet, size=size)


def unique_names(header: list[str]) -> list[str]:
    """Header names made unique (a repeated name gets .1, .2) so every column can be addressed."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}.{n}")
    return out


def iter_batches(source: Source, *, batch_rows: int = 100_000,
                 on_bytes: Callable[[int], None] | None = None) -> Iterator[pl.DataFrame]:
    """Yield the data rows as DataFrames of strings (empty cell = ""), with a ``__row`` column."""
    if source.format == "xlsx":
        yield from _xlsx_batches(source, batch_rows, on_bytes)
    else:
        yield from _csv_batches(source, on_bytes)


def _csv_batches(source: Source, on_bytes: Callable[[int], None] | None) -> Iterator[pl.DataFrame]:
    names = unique_names(source.header)

    def invalid_row(row: Any) -> str:
        excerpt = (row.text or "")[:80]
        source.problems.append(
            f"a row has {row.actual_columns} fields where the header has {row.expected_columns}: {excerpt!r}"
        )
        return "skip"

    # One block at a time, read by the consuming thread: a background reader runs ahead of a busy
    # consumer and its queued blocks made peak memory vary with machine load.
    read = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_SIZE, use_threads=False,
                             encoding="utf8" if source.encoding in ("utf-8", "utf-8-sig") else source.encoding)
    parse = pacsv.ParseOptions(delimiter=source.delimiter, newlines_in_values=True, invalid_row_handler=invalid_row)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                   quoted_strings_can_be_null=False)
    raw = _Counting(source.path.open("rb"), on_bytes)
    offset = 0
    try:
        try:
            reader = pacsv.open_csv(raw, read_options=read, parse_options=parse, convert_options=convert)
        except StopIteration:  # header only
            return
        for batch in reader:
            if batch.num_rows == 0:
                continue
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield frame.with_row_index(ROW, offset=offset)
            offset += batch.num_rows
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "Empty CSV file" in message:
            return
        raise ImportFailed(f"{source.path.name} cannot be read as CSV after data row {offset}: {message}",
                           hint="Check for an unclosed quote or a stray delimiter near that row.") from None
    finally:
        raw.close()


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person would type."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    return str(value)


def _xlsx_batches(source: Source, batch_rows: int,
                  on_bytes: Callable[[int], None] | None) -> Iterator[pl.DataFrame]:
    import openpyxl

    names = unique_names(source.header)
    width = len(names)
    book = openpyxl.load_workbook(source.path, read_only=True, data_only=True)
    try:
        rows = book[source.sheet].iter_rows(min_row=2, values_only=True)
        columns: list[list[str]] = [[] for _ in names]
        offset = 0
        count = 0
        for values in rows:
            cells = [_cell_text(v) for v in values[:width]]
            if not any(cells):
                continue
            cells += [""] * (width - len(cells))
            for col, cell in zip(columns, cells):
                col.append(cell)
            count += 1
            if count == batch_rows:
                yield pl.DataFrame(dict(zip(names, columns)), schema=dict.fromkeys(names, pl.String)).with_row_index(ROW, offset=offset)
                offset += count
                count = 0
                columns = [[] for _ in names]
        if count:
            yield pl.DataFrame(dict(zip(names, columns)), schema=dict.fromkeys(names, pl.String)).with_row_index(ROW, offset=offset)
        if on_bytes:
            on_bytes(source.size)
    finally:
        book.close()
