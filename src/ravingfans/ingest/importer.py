"""Import a customers, products or orders file: validate everything, then merge atomically.

Phase 1 streams the file in batches, validates each and appends the good rows to a TEMPORARY
staging table (memory stays bounded; no lock on the real tables). Phase 2 takes the write lock
(SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock, so two imports of one file run one after
the other and the second finds everything unchanged), checks what needs the whole file, and merges
in one transaction: a crash at any point leaves the database exactly as before.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, text
from sqlalchemy.pool import SingletonThreadPool

from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db.locks import IMPORT_MERGE
from ravingfans.errors import ImportFailed, ImportReport, RowProblem
from ravingfans.ingest import merge, suppression
from ravingfans.ingest.layouts import FIELDS, LAYOUTS, ORDER_HEADER, Kind
from ravingfans.ingest.readers import ROW, Source, iter_batches, open_source
from ravingfans.ingest.staging import row_text, stable_hash, stage_table
from ravingfans.ingest.validate import Context, Plan, check_batch, parse_mapping, plan_columns

MAX_PROBLEMS_KEPT = 1000
PG_IMPORT_LOCK = IMPORT_MERGE  # advisory lock key: one merge at a time, and erasures wait for it (db/locks.py)


@dataclass
class ImportOptions:
    """How to read and apply one file (the CLI's flags, as a value)."""

    kind: Kind
    format: str = "generic"
    source: str | None = None
    mapping: list[str] = field(default_factory=list)
    sheet: str | None = None
    date_format: str | None = None
    dry_run: bool = False
    skip_invalid: bool = False
    create_customers: bool = True


ProgressFn = Callable[[int, int], None]  # (bytes read, total bytes)


class _Problems:
    """Collects row problems: all rejected rows, the first MAX_PROBLEMS_KEPT messages in full."""

    def __init__(self) -> None:
        self.kept: list[RowProblem] = []
        self.count = 0
        self.rows: dict[int, str] = {}  # src_row -> first reason, for the rejects file
        self.bad_orders: set[str] = set()  # orders with a rejected line: rejected whole

    def add(self, row: int | None, column: str | None, value: str | None, message: str) -> None:
        self.count += 1
        if row is not None:
            self.rows.setdefault(row, f"{column}: {message}" if column else message)
        if len(self.kept) < MAX_PROBLEMS_KEPT:
            self.kept.append(RowProblem(line=(row + 2) if row is not None else 0, column=column, value=value,
                                        message=message))


def import_file(engine: Engine, settings: Settings, path: Path | str, options: ImportOptions, *,
                progress: ProgressFn | None = None, clock: Clock = utcnow) -> ImportReport:
    """Import ``path``; returns what changed, or raises ImportFailed having written nothing."""
    path = Path(path)
    if options.format not in LAYOUTS:
        raise ImportFailed(f"Unknown format {options.format!r}; choose one of: {', '.join(LAYOUTS)}.")
    layout = LAYOUTS[options.format]
    source_name = (options.source or options.format).strip()
    if not source_name or len(source_name) > 40:
        raise ImportFailed("--source must be a name of 1 to 40 characters, e.g. 'till' or 'shopify'.")
    src = open_source(path, sheet=options.sheet)
    plan = plan_columns(src, layout, options.kind, parse_mapping(options.mapping, options.kind))
    ctx = Context(zone=settings.zone, region=settings.default_region,
                  comma_decimal=src.format == "csv" and src.delimiter in (";", "\t"), date_format=options.date_format)
    report = ImportReport(kind=options.kind, path=str(path), dry_run=options.dry_run)
    if plan.ignored:
        report.warnings.append(f"ignored columns (not {options.kind} fields of the {layout.name} layout): "
                               + ", ".join(plan.ignored))
    problems = _Problems()
    now = clock()
    table = stage_table(options.kind)
    with engine.connect() as conn, _sqlite_cache(conn):
        in_memory = _in_memory(conn)  # asked before any write: later, asking would open a transaction
        try:
            with conn.begin():
                table.create(conn)
                skus_staged = _stage(conn, src, plan, ctx, options, problems, report, progress)
            for message in src.problems:
                problems.add(None, None, None, message)
            if report.rows == 0 and not problems.count:
                raise ImportFailed(f"{path.name} has a header but no data rows; nothing to import.",
                                   hint="Check that you exported the right file.")
            _fail_unless_skipping(problems, options, report)
            _merge(conn, engine, options, plan, source_name, src, now, problems, report,
                   settings.secret_key.get_secret_value(), skus_staged=skus_staged)
        finally:
            _drop_staging(conn, table.name, in_memory=in_memory)
    if options.skip_invalid and problems.rows:
        report.rejects_path = str(_write_rejects(src, problems.rows))
    return report


SQLITE_IMPORT_CACHE_KIB = 65536


@contextmanager
def _sqlite_cache(conn: Connection) -> Iterator[None]:
    """A 64 MiB page cache on SQLite for the import, then the connection's own again (it goes back to the pool).

    SQLite's default 2 MiB cache cannot hold a growing ledger's indexes, so a million-line merge spends its
    time re-reading pages: order lines 7.9 -> 5.4 s, orders 3.5 -> 1.6 s with the larger cache (bench/RESULTS.md).
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    before = raw.execute("PRAGMA cache_size").fetchone()[0]  # type: ignore[union-attr]
    raw.execute(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")  # type: ignore[union-attr]
    try:
        yield
    finally:
        try:
            raw.execute(f"PRAGMA cache_size={int(before)}")  # type: ignore[union-attr]
        except sqlite3.Error:  # closed after a failure (_drop_staging invalidates it): never reused, and the
            pass  # failure, not this, is what the user must see


def _stage(conn: Connection, src: Source, plan: Plan, ctx: Context, options: ImportOptions,
           problems: _Problems, report: ImportReport, progress: ProgressFn | None) -> bool:
    """Phase 1: read, validate and stage every batch; True when the orders' SKUs were staged too (stg_skus)."""
    from ravingfans.ingest import staging

    table = stage_table(options.kind)
    skus = _SkuNames() if options.kind == "orders" and conn.dialect.name == "sqlite" else None
    read = 0

    def on_bytes(n: int) -> None:
        nonlocal read
        read += n
        if progress:
            progress(read, src.size)

    # One batch is written while the next is read and checked: the database driver and Polars release the
    # GIL for most of their work, so on two cores the two halves overlap (a million-line file stages in ~2/3
    # of the time). One batch in flight at a time keeps memory bounded and the rows in file order; the
    # connection is only ever used by one thread at a time. A pool that ties each connection to its thread
    # (SQLAlchemy's default for an in-memory SQLite database) gets every batch written by the calling thread.
    thread_bound = isinstance(conn.engine.pool, SingletonThreadPool)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rf-stage") as writer:
        pending: Future[None] | None = None
        for frame in _checked_frames(src, plan, ctx, options, problems, report, on_bytes):
            if skus is not None:
                skus.add(frame)
            if thread_bound:
                staging.load(conn, table, frame.rename({ROW: "src_row"}))
                continue
            if pending is not None:
                pending.result()
            pending = writer.submit(staging.load, conn, table, frame.rename({ROW: "src_row"}))
        if pending is not None:
            pending.result()
    if options.kind == "orders":
        conn.execute(text("CREATE INDEX ix_stg_orders_order ON stg_orders (order_id, src_row)"))
    elif options.kind == "customers":
        conn.execute(text("CREATE INDEX ix_stg_customers_id ON stg_customers (customer_id)"))
    merge.analyze(conn, table.name)
    if skus is None:
        return False
    skus.stage(conn)
    return True


class _SkuNames:
    """Each SKU the orders name, with its product name (the greatest of its lines', else the SKU), gathered batch
    by batch while staging.

    SQLite's merge otherwise sorted every staged line by SKU for this (about 1.2 s per million lines,
    bench/RESULTS.md). Only on SQLite: its MAX compares text byte by byte, as Polars does; PostgreSQL's
    follows its collation, so it keeps the SQL.
    """

    COMPACT_EVERY = 64

    def __init__(self) -> None:
        self.parts: list[pl.DataFrame] = []

    def add(self, frame: pl.DataFrame) -> None:
        """Note the SKUs of one checked batch."""
        if "sku" not in frame.columns:
            return
        name = pl.coalesce("product_name", "sku") if "product_name" in frame.columns else pl.col("sku")
        self.parts.append(frame.filter(pl.col("sku").is_not_null()).group_by("sku").agg(name.max().alias("name")))
        if len(self.parts) >= self.COMPACT_EVERY:
            self.parts = [self._merged()]

    def _merged(self) -> pl.DataFrame:
        if not self.parts:
            return pl.DataFrame(schema={"sku": pl.String, "name": pl.String})
        return pl.concat(self.parts).group_by("sku").agg(pl.col("name").max())

    def stage(self, conn: Connection) -> None:
        """Write them to the TEMPORARY table stg_skus, which the merge reads instead of the staged lines."""
        from ravingfans.ingest import staging

        table = staging.sku_table()
        table.create(conn)
        staging.load(conn, table, self._merged())


def _checked_frames(src: Source, plan: Plan, ctx: Context, options: ImportOptions, problems: _Problems,
                    report: ImportReport, on_bytes: Callable[[int], None]) -> Iterator[pl.DataFrame]:
    """Each batch read, checked and derived, ready to stage (none once a problem stops a strict import)."""
    for batch in iter_batches(src, on_bytes=on_bytes):
        report.rows += len(batch)
        checked = check_batch(batch, plan, ctx)
        for w in checked.warnings:
            if w not in report.warnings:
                report.warnings.append(w)
        for row, column, value, message in checked.problems:
            problems.add(row, column, value, message)
        if problems.count and not options.skip_invalid:
            continue  # keep validating to report every problem, but stage nothing
        frame = checked.frame
        if checked.bad_rows:
            frame = frame.filter(~pl.col(ROW).is_in(list(checked.bad_rows)))
        if options.kind == "orders":
            frame = _derive_orders(frame)
            if checked.bad_rows:
                rejected = checked.frame.filter(pl.col(ROW).is_in(list(checked.bad_rows)))
                problems.bad_orders.update(rejected["order_id"].drop_nulls().to_list())
        else:
            if options.kind == "products" and plan.layout.name == "shopify":
                frame, images = _shopify_variants(frame)
                report.skipped += images
            frame = _derive_record(frame, options.kind)
        yield frame


def _shopify_variants(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Drop Shopify's image-only rows (no SKU, no option); give SKU-less variants a stable key."""
    for name in ("sku", "size", "colour", "product_id"):
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    variant = pl.col("sku").is_not_null() | pl.col("size").is_not_null()
    kept = frame.filter(variant)
    made_up = pl.concat_str([pl.col("product_id"), pl.col("size"), pl.col("colour")], separator="/",
                            ignore_nulls=True)
    kept = kept.with_columns(pl.coalesce(pl.col("sku"), made_up).alias("sku"))
    return kept, len(frame) - len(kept)


def _derive_record(frame: pl.DataFrame, kind: Kind) -> pl.DataFrame:
    """Add the content hash of each customer or product row."""
    names = [n for n in FIELDS[kind] if n in frame.columns]
    return frame.with_columns(stable_hash(row_text(frame, names)).alias("row_hash"))


def _derive_orders(frame: pl.DataFrame) -> pl.DataFrame:
    """Split names, sign returns, compute line amounts and the header/line hashes."""
    cols = frame.columns
    if "customer_name" in cols:
        first = frame["customer_name"].str.extract(r"^\s*(\S+)", 1)
        last = frame["customer_name"].str.extract(r"^\s*\S+\s+(.+?)\s*$", 1)
        frame = frame.with_columns(
            (pl.col("first_name") if "first_name" in cols else first.alias("first_name")),
            (pl.col("last_name") if "last_name" in cols else last.alias("last_name")),
        )
    for name in ("kind", "discount"):
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None).alias(name))
    frame = frame.with_columns(pl.col("kind").fill_null("sale"), pl.col("discount").cast(pl.Int64).fill_null(0))
    sign = pl.when(pl.col("kind") == "return").then(-1).otherwise(1)
    frame = frame.with_columns(
        (sign * pl.col("quantity")).alias("quantity"),
        (sign * (pl.col("quantity") * pl.col("unit_price") - pl.col("discount"))).alias("amount"),
    )
    head = [c for c in ORDER_HEADER if c in frame.columns]
    has_head = pl.col("ordered_at").is_not_null() if "ordered_at" in frame.columns else pl.lit(False)
    line_cols = [c for c in ("sku", "product_name", "kind", "quantity", "unit_price", "discount") if c in frame.columns]
    header_hash = stable_hash(row_text(frame, head))
    frame = frame.with_columns(
        pl.when(has_head).then(header_hash).otherwise(None).alias("header_hash"),
        stable_hash(row_text(frame, line_cols)).alias("line_hash"),
    )
    return frame


def _fail_unless_skipping(problems: _Problems, options: ImportOptions, report: ImportReport) -> None:
    if problems.count and not options.skip_invalid:
        report.problems = problems.kept
        report.problem_count = problems.count
        report.rejected = len(problems.rows)
        raise ImportFailed(_problem_message(report), report=report,
                           hint="Fix these rows and import again, or use --skip-invalid to import the good rows "
                                "and write the rejected ones, with their reasons, beside the file.")


def _problem_message(report: ImportReport) -> str:
    shown = report.problems[:20]
    lines = [f"{Path(report.path).name}: {report.problem_count} problem(s) found; nothing was imported."]
    lines += [f"  {p}" for p in shown]
    if report.problem_count > len(shown):
        lines.append(f"  … and {report.problem_count - len(shown)} more.")
    return "\n".join(lines)


def _merge(conn: Connection, engine: Engine, options: ImportOptions, plan: Plan, source_name: str, src: Source,
           now: datetime, problems: _Problems, report: ImportReport, secret: str, *,
           skus_staged: bool = False) -> None:
    """Phase 2: whole-file checks and the merge, in one write transaction (new records of erased addresses flagged)."""
    kind = options.kind
    column = plan.source_of
    if conn.dialect.name == "sqlite":
        conn = conn.execution_options(sqlite_begin="IMMEDIATE")
    with conn.begin() as tx:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_IMPORT_LOCK})
            conn.execute(text("SET LOCAL work_mem = '64MB'"))  # the merge's sorts stay in memory
        bad_orders = set(problems.bad_orders)
        if kind == "customers":
            found = merge.check_customers(conn, source_name, column, skipping=options.skip_invalid)
        elif kind == "products":
            found = merge.check_products(conn, column)
        else:
            found = merge.check_orders(conn, column)
            merge.build_order_heads(conn)
            if not options.create_customers:
                found += merge.unknown_customers(conn, source_name, column)
        for row, col, value, message in found:
            problems.add(row, col, value, message)
        if kind == "orders":
            bad_orders |= _order_ids_of(conn, {r for r, *_ in found})
            for row in merge.order_rows(conn, bad_orders):
                problems.rows.setdefault(row, "another line of the same order was rejected")
        _fail_unless_skipping(problems, options, report)
        if problems.rows:
            merge.delete_rows(conn, kind, set(problems.rows))
            if kind == "orders":
                conn.execute(text("DROP TABLE stg_heads"))
                merge.build_order_heads(conn)
        present = set(column)
        known = int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM customers")).scalar_one())
        if kind == "customers":
            counts = merge.merge_customers(conn, source_name, present, now, consent_source=f"import:{src.path.name}",
                                           consent_column=column.get("email_consent"))
        elif kind == "products":
            counts = merge.merge_products(conn, source_name, present, now)
        else:
            # SKUs gathered while staging count the lines of rejected orders too: after a rejection the merge
            # gathers them again from the lines that stay
            counts = merge.merge_orders(conn, source_name, now, prepare=False,
                                        skus_staged=skus_staged and not problems.rows)
        if kind != "products":
            suppression.flag_new_customers(conn, secret, created_after=known)
        report.created, report.updated, report.unchanged = counts.created, counts.updated, counts.unchanged
        report.customers_created = counts.customers_created
        report.rejected = len(problems.rows)
        report.problems = problems.kept
        report.problem_count = problems.count
        if options.dry_run:
            tx.rollback()


def _order_ids_of(conn: Connection, rows: set[int]) -> set[str]:
    if not rows:
        return set()
    listed = ", ".join(str(int(r)) for r in sorted(rows))
    return {r[0] for r in conn.execute(text(f"SELECT order_id FROM stg_orders WHERE src_row IN ({listed})"))}


def _drop_staging(conn: Connection, name: str, *, in_memory: bool) -> None:
    """Temporary tables outlive a transaction on a pooled connection: drop them explicitly.

    On SQLite the connection is closed instead, which discards its temporary database whole: dropping a staged
    million lines walked and freed every page of it (0.4-0.9 s, bench/RESULTS.md); a new connection costs
    milliseconds. Not when the database itself lives in memory: closing its connection would lose every table.
    Closing issues no statement, so it never waits for another writer's lock.
    """
    if conn.dialect.name == "sqlite" and not in_memory:
        conn.invalidate()
        return
    try:
        if conn.in_transaction():
            conn.rollback()
        with conn.begin():
            for staged in (name, "stg_heads", "stg_skus"):
                conn.execute(text(f"DROP TABLE IF EXISTS {staged}"))
    except Exception:  # noqa: BLE001 - best effort; a broken connection is discarded, unless it holds the data
        if not in_memory:
            conn.invalidate()


def _in_memory(conn: Connection) -> bool:
    """Whether this SQLite connection's main database lives in memory: closing the connection would lose it.

    Asked of the driver's connection, outside SQLAlchemy's transactions: a PRAGMA through the Connection would
    begin one, and after the merge that begin takes the write lock (BEGIN IMMEDIATE).
    """
    if conn.dialect.name != "sqlite":
        return False
    try:
        rows = conn.connection.driver_connection.execute("PRAGMA database_list").fetchall()  # type: ignore[union-attr]
    except sqlite3.Error:  # unreadable: judge by the URL, erring towards keeping the connection
        return conn.engine.url.database in (None, "", ":memory:") or "mode=memory" in str(conn.engine.url)
    return not {name: file for _seq, name, file in rows}.get("main")


def _write_rejects(src: Source, rows: dict[int, str]) -> Path:
    """Write the rejected rows, as the file had them, with their reasons, beside the input."""
    out = src.path.with_name(src.path.stem + ".rejects.csv")
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "error", *src.header])
        for batch in iter_batches(src):
            picked = batch.filter(pl.col(ROW).is_in(list(rows)))
            for values in picked.iter_rows():
                row = values[0]
                writer.writerow([row + 2, rows[row], *values[1:]])
    return out
