"""Benchmark `ravingfans import orders` against each database's own bulk load, on one file, in one run.

    python bench/import_bench.py                       # 1,000,000 lines, SQLite and PostgreSQL
    python bench/import_bench.py --lines 50000 --backend sqlite
    python bench/import_bench.py --markdown bench/results.md

For each backend: (1) the bulk floor, `sqlite3 DB ".import"` into a bare table (or `psql \\copy`
into a bare table of text columns); (2) ravingfans' `import_file` into a freshly migrated database,
full validation and merge, in a child process so its peak RSS is its own; (3) the same import again,
which must find every order unchanged; (4) the database's own set-based path (`\\copy`, or SQLite's
INSERT ... SELECT) writing the orders and lines of (2) into ravingfans' own tables with every index
and key in place, without validation: the part of any import's cost that the schema itself sets.
Wall time and peak RSS come from `/usr/bin/time`; the ravingfans rate uses the time of the
`import_file` call itself (the process time, with interpreter start-up and imports, is shown too),
and the child reports where that time went.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOAL_RATIO = 1 / 3
GOAL_RSS_MB = 500.0
DB_PREFIX = "rf_bench_"


@dataclass
class Run:
    """One timed load: what ran, how many rows, how long, how much memory."""

    backend: str
    path: str
    rows: int
    seconds: float
    process_s: float
    rss_mb: float
    note: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    statements: list[tuple[float, str]] = field(default_factory=list)
    peaks: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds else 0.0


# ---------------------------------------------------------------- child: one ravingfans import

def _timed(holder: dict[str, float], key: str, fn: Any) -> Any:
    """Wrap ``fn`` so its run time accumulates in ``holder[key]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            holder[key] = holder.get(key, 0.0) + time.perf_counter() - t0
    return wrapper


def _peak_mb() -> float:
    """This process's peak RSS so far, in MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_after(holder: dict[str, float], key: str, fn: Any) -> Any:
    """Wrap ``fn`` so the process's peak RSS is recorded in ``holder[key]`` when it returns."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            holder[key] = _peak_mb()
    return wrapper


def child_import(url: str, path: str) -> dict[str, Any]:
    """Run one import_file in this process, timing its phases; returns the report as a dict."""
    from sqlalchemy import event

    from ravingfans.config import Settings
    from ravingfans.db.engine import make_engine
    from ravingfans.ingest import importer, merge, readers, staging
    from ravingfans.ingest.importer import ImportOptions, import_file

    phases: dict[str, float] = {}
    rss: dict[str, float] = {"before import": _peak_mb()}
    reading = readers.iter_batches

    def timed_batches(*args: Any, **kwargs: Any) -> Any:
        it = reading(*args, **kwargs)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            finally:
                phases["stage: read CSV"] = phases.get("stage: read CSV", 0.0) + time.perf_counter() - t0
            yield batch

    def patch(module: Any, name: str, wrap: Any) -> None:
        if hasattr(module, name):  # the importer's internals may move; time what is there
            setattr(module, name, wrap(getattr(module, name)))

    def timer(key: str) -> Any:
        return lambda fn: _timed(phases, key, fn)

    patch(importer, "iter_batches", lambda fn: timed_batches)
    patch(importer, "check_batch", timer("stage: validate"))
    patch(importer, "_derive_orders", timer("stage: derive + hash"))
    patch(staging, "load", timer("stage: load staging (a second thread, overlapping the above)"))
    patch(importer, "_stage", lambda fn: _peak_after(rss, "after stage", _timed(phases, "stage (total)", fn)))
    patch(merge, "check_orders", timer("merge: check_orders"))
    patch(merge, "_build_order_heads", timer("merge: build heads"))
    patch(merge, "merge_orders", timer("merge: merge_orders"))
    patch(importer, "_merge",
          lambda fn: _peak_after(rss, "after merge", _timed(phases, "merge (total, with commit)", fn)))

    engine = make_engine(url)
    statements: list[tuple[float, str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["rf_t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        statements.append((time.perf_counter() - conn.info.pop("rf_t0"), " ".join(statement.split())[:110]))

    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    t0 = time.perf_counter()
    report = import_file(engine, settings, path, ImportOptions(kind="orders"))
    seconds = time.perf_counter() - t0
    engine.dispose()
    accounted = phases.get("stage (total)", 0.0) + phases.get("merge (total, with commit)", 0.0)
    phases["other (open, detect encoding, drop staging)"] = seconds - accounted
    statements.sort(reverse=True)
    return {"seconds": seconds, "rows": report.rows, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "rejected": report.rejected,
            "customers_created": report.customers_created, "warnings": report.warnings,
            "peak_rss_mb": rss,
            "phases": phases, "statements": statements[:8]}


# ---------------------------------------------------------------- parent

def _time_cmd(cmd: list[str], **kwargs: Any) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``cmd`` under /usr/bin/time; returns (wall seconds, peak RSS MB, completed process)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, *cmd], text=True,
                              capture_output=True, **kwargs)
        wall = time.perf_counter() - t0
        rss_kb = out.read().strip().splitlines()[-1]
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"FAILED ({proc.returncode}): {' '.join(cmd)}")
    return wall, int(rss_kb) / 1024, proc


def _rf_import(backend: str, url: str, path: Path, note: str) -> tuple[Run, dict[str, Any]]:
    """One ravingfans import in a child process."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", url, str(path)]
    wall, rss, proc = _time_cmd(cmd)
    sys.stderr.write(proc.stderr)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    run = Run(backend, "ravingfans " + note, result["rows"], result["seconds"], wall, rss, phases=result["phases"],
              statements=[tuple(s) for s in result["statements"]], peaks=result["peak_rss_mb"])  # type: ignore[misc]
    return run, result


def _db_counts(url: str) -> dict[str, int]:
    """Row counts of the tables an orders import fills."""
    from sqlalchemy import text

    from ravingfans.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() or 0)
                    for t in ("orders", "order_lines", "customers", "employees", "product_variants")}
    finally:
        engine.dispose()


def _check_imports(first: dict[str, Any], second: dict[str, Any], counts: dict[str, int], rows: int) -> str:
    """Fail loudly unless the import wrote every order and line, and the re-import changed nothing."""
    problems = []
    if first["rows"] != rows:
        problems.append(f"ravingfans read {first['rows']} rows, the bulk path loaded {rows}")
    if counts["orders"] == 0 or counts["order_lines"] == 0:
        problems.append(f"nothing was imported: {counts}")
    if first["created"] != counts["orders"] or first["rejected"]:
        problems.append(f"report says {first['created']} created / {first['rejected']} rejected, "
                        f"the database has {counts['orders']} orders")
    if counts["order_lines"] < rows:
        problems.append(f"{counts['order_lines']} order lines in the database for {rows} rows")
    if second["created"] or second["updated"] or second["unchanged"] != counts["orders"]:
        problems.append(f"re-import was not a no-op: {second['created']} created, {second['updated']} updated, "
                        f"{second['unchanged']} unchanged of {counts['orders']}")
    if problems:
        raise SystemExit("IMPORT CHECK FAILED:\n  " + "\n  ".join(problems))
    return (f"{counts['orders']:,} orders, {counts['order_lines']:,} lines, {counts['customers']:,} customers, "
            f"{counts['employees']} employees, {counts['product_variants']:,} SKUs")


def bench_sqlite(path: Path, work: Path, keep: bool) -> tuple[list[Run], str]:
    """Bulk `.import`, then ravingfans import and re-import, into fresh SQLite files."""
    from ravingfans.db.engine import make_engine
    from ravingfans.db.migrate import upgrade

    bulk_db, rf_db = work / "bulk.sqlite", work / "ravingfans.sqlite"
    for p in work.glob("*.sqlite*"):
        p.unlink()
    wall, rss, _ = _time_cmd(["sqlite3", str(bulk_db), ".mode csv", f".import '{path}' bare"])
    rows = int(subprocess.run(["sqlite3", str(bulk_db), "SELECT COUNT(*) FROM bare"], text=True, check=True,
                              capture_output=True).stdout)
    runs = [Run("sqlite", "sqlite3 .import (bare table)", rows, wall, wall, rss)]
    url = f"sqlite:///{rf_db}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    run1, first = _rf_import("sqlite", url, path, "import")
    run2, second = _rf_import("sqlite", url, path, "re-import (unchanged)")
    checked = _check_imports(first, second, _db_counts(url), rows)
    floor = _schema_floor_sqlite(rf_db, work / "schema.sqlite", rows)
    if not keep:
        for p in work.glob("*.sqlite*"):
            p.unlink()
    return runs + [floor, run1, run2], checked


LEDGER = ("orders", "order_lines")
DIMENSIONS = ("customers", "customer_identities", "employees", "products", "product_variants")


def _schema_floor_sqlite(rf_db: Path, floor_db: Path, rows: int) -> Run:
    """SQLite's own set-based path into ravingfans' tables, with every index and key in place: the orders and
    lines the import wrote, copied by INSERT ... SELECT from that file (attached) into a freshly migrated one
    that already holds its customers, employees and products (copied first, untimed). No validation, no
    staging: what any importer would still pay to write these rows into this schema."""
    from ravingfans.db.engine import make_engine
    from ravingfans.db.migrate import upgrade

    engine = make_engine(f"sqlite:///{floor_db}")
    upgrade(engine)
    engine.dispose()
    attach = f"ATTACH '{rf_db}' AS rf"
    copy = [f"INSERT INTO main.{t} SELECT * FROM rf.{t};" for t in DIMENSIONS]
    subprocess.run(["sqlite3", str(floor_db), attach, "BEGIN", *copy, "COMMIT"], check=True)
    ledger = [f"INSERT INTO main.{t} SELECT * FROM rf.{t};" for t in LEDGER]
    wall, rss, _ = _time_cmd(["sqlite3", str(floor_db), "PRAGMA foreign_keys=ON", "PRAGMA cache_size=-65536",
                              attach, "BEGIN", *ledger, "COMMIT"])
    return Run("sqlite", "INSERT … SELECT into ravingfans' tables (no validation)", rows, wall, wall, rss)


def _psql(url: str, *args: str) -> list[str]:
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, *args]


def bench_postgresql(path: Path, base: str, keep: bool) -> tuple[list[Run], str]:
    """Bulk `\\copy`, then ravingfans import and re-import, into fresh PostgreSQL databases."""
    from ravingfans.db.engine import make_engine
    from ravingfans.db.migrate import upgrade

    tag = f"{DB_PREFIX}{os.getpid()}"
    bulk_db, rf_db, schema_db = f"{tag}_bulk", f"{tag}_rf", f"{tag}_schema"
    admin = f"{base}/postgres"
    for db in (bulk_db, rf_db, schema_db):
        subprocess.run(_psql(admin, "-c", "SET client_min_messages = warning", "-c", f"DROP DATABASE IF EXISTS {db}",
                             "-c", f"CREATE DATABASE {db}"), check=True)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh))
        cols = ", ".join(f'"{h}" text' for h in header)
        subprocess.run(_psql(f"{base}/{bulk_db}", "-c", f"CREATE TABLE bare ({cols})"), check=True)
        copy = f"\\copy bare FROM '{path}' WITH (FORMAT csv, HEADER)"
        wall, rss, _ = _time_cmd(_psql(f"{base}/{bulk_db}", "-c", copy))
        rows = int(subprocess.run(_psql(f"{base}/{bulk_db}", "-At", "-c", "SELECT COUNT(*) FROM bare"), text=True,
                                  check=True, capture_output=True).stdout)
        runs = [Run("postgresql", "psql \\copy (bare table)", rows, wall, wall, rss, note="client RSS only")]
        url = f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{rf_db}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        run1, first = _rf_import("postgresql", url, path, "import")
        run2, second = _rf_import("postgresql", url, path, "re-import (unchanged)")
        checked = _check_imports(first, second, _db_counts(url), rows)
        floor = _schema_floor_postgresql(base, rf_db, schema_db, path.parent, rows)
    finally:
        if not keep:
            for db in (bulk_db, rf_db, schema_db):
                subprocess.run(_psql(admin, "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"), check=True)
    return runs + [floor, run1, run2], checked


def _schema_floor_postgresql(base: str, rf_db: str, floor_db: str, work: Path, rows: int) -> Run:
    """`\\copy` of the orders and lines the import wrote into a freshly migrated database that already holds their
    customers, employees and products (copied first, untimed), with every index and key in place: what any
    importer would still pay to write these rows into this schema, without validation or staging."""
    from ravingfans.db.engine import make_engine
    from ravingfans.db.migrate import upgrade

    engine = make_engine(f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{floor_db}")
    upgrade(engine)
    engine.dispose()
    dump = subprocess.run(["pg_dump", "--data-only", "--disable-triggers", *(f"--table={t}" for t in DIMENSIONS),
                           f"{base}/{rf_db}"], check=True, capture_output=True, text=True).stdout
    subprocess.run(_psql(f"{base}/{floor_db}"), input=dump, check=True, text=True, capture_output=True)
    total, peak = 0.0, 0.0
    for table in LEDGER:
        csv_path = work / f"schema_{table}.csv"
        subprocess.run(_psql(f"{base}/{rf_db}", "-c", f"\\copy {table} TO '{csv_path}' WITH (FORMAT csv)"),
                       check=True)
        copy = f"\\copy {table} FROM '{csv_path}' WITH (FORMAT csv)"
        wall, rss, _ = _time_cmd(_psql(f"{base}/{floor_db}", "-c", copy))
        total, peak = total + wall, max(peak, rss)
        csv_path.unlink()
    return Run("postgresql", "psql \\copy into ravingfans' tables (no validation)", rows, total, total, peak,
               note="client RSS only")


def _versions(base: str, backends: list[str]) -> list[str]:
    """Machine and software, for the record."""
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    head = subprocess.run(["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True,
                          text=True).stdout.strip() or "?"
    lines = [f"ravingfans at `{head}`", f"machine: `{' '.join(platform.uname())}`", f"load average at start: {load}",
             f"CPU: {cpu}, {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {mem_gb:.0f} GiB RAM",
             f"Python {platform.python_version()}"]
    import polars
    import pyarrow
    import sqlalchemy

    lines[-1] += f", polars {polars.__version__}, pyarrow {pyarrow.__version__}, SQLAlchemy {sqlalchemy.__version__}"
    if "sqlite" in backends:
        lines.append("sqlite3 CLI " + subprocess.run(["sqlite3", "--version"], capture_output=True, text=True)
                     .stdout.split()[0])
    if "postgresql" in backends:
        lines.append(subprocess.run(_psql(f"{base}/postgres", "-At", "-c", "SHOW server_version"), text=True,
                                    capture_output=True).stdout.strip().join(("PostgreSQL server ", "")))
    return lines


def render(runs: list[Run], meta: list[str], checks: dict[str, str]) -> str:
    """The results as a markdown fragment."""
    out = [f"### Orders import benchmark ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)", ""]
    out += [f"- {m}" for m in meta]
    out += ["", "| backend | path | rows | import s | process s | rows/s | × bulk rate | peak RSS MB |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    verdicts = []
    for run in runs:
        bulk = next(r for r in runs if r.backend == run.backend)
        ratio = run.rate / bulk.rate
        rss = f"{run.rss_mb:,.0f}" + (f" ({run.note})" if run.note else "")
        out.append(f"| {run.backend} | {run.path} | {run.rows:,} | {run.seconds:.1f} | {run.process_s:.1f} | "
                   f"{run.rate:,.0f} | {ratio:.2f} | {rss} |")
        if run.path == "ravingfans import":
            ok = ratio >= GOAL_RATIO and run.rss_mb < GOAL_RSS_MB
            verdicts.append(f"- {run.backend}: {ratio:.2f}× the bulk rate (goal ≥ 0.33), peak {run.rss_mb:.0f} MB "
                            f"(goal < {GOAL_RSS_MB:.0f}) — **{'met' if ok else 'missed'}**")
    out += ["", "Goal: at least one third of the bulk rate with full validation, peak memory under 500 MB.", ""]
    out += verdicts + [""] + [f"- {b} database after import: {c}" for b, c in checks.items()]
    for run in runs:
        if not run.phases:
            continue
        out += ["", f"Where the time goes — {run.backend}, {run.path} ({run.seconds:.1f} s):", "",
                "| phase | s | share |", "| --- | ---: | ---: |"]
        out += [f"| {k} | {v:.2f} | {v / run.seconds:.0%} |" for k, v in run.phases.items()]
        peaks = ", ".join(f"{k} {v:.0f} MB" for k, v in run.peaks.items())
        out += ["", f"peak RSS of the child: {peaks}", "", "slowest SQL statements:", ""]
        out += [f"- {s:.2f} s `{sql}`" for s, sql in run.statements[:5]]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines of the generated file (default 1,000,000)")
    ap.add_argument("--file", type=Path, help="an existing generic orders CSV to use instead of generating one")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432",
                    help="PostgreSQL server URL without a database; scratch databases rf_bench_* are created there")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rf_bench",
                    help="folder for the generated file and the SQLite databases")
    ap.add_argument("--markdown", type=Path, help="also write the markdown fragment to this file")
    ap.add_argument("--keep", action="store_true", help="keep the scratch databases")
    ap.add_argument("--strict", action="store_true", help="exit 1 when ravingfans misses the goal")
    ap.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child_import(*args.child)))
        return 0
    for tool in ("sqlite3", "psql", "pg_dump"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH")
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.file or args.work / f"orders_{args.lines}.csv"
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "gen_orders.py"), "--lines", str(args.lines), "--out", str(path)],
                       check=True)
    path = path.resolve()
    with path.open("rb") as fh:  # warm the page cache so every contender reads the file from memory
        while fh.read(1 << 24):
            pass
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    base = args.pg.rstrip("/")
    meta = [f"file: `{path.name}`, {path.stat().st_size / 1e6:,.0f} MB"] + _versions(base, backends)
    runs: list[Run] = []
    checks: dict[str, str] = {}
    for backend in backends:
        print(f"== {backend}", file=sys.stderr, flush=True)
        got, checks[backend] = (bench_sqlite(path, args.work, args.keep) if backend == "sqlite"
                                else bench_postgresql(path, base, args.keep))
        runs += got
    meta.insert(4, "load average at end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
                + " (other work on the machine inflates every time above)")
    text = render(runs, meta, checks)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    missed = [r for r in runs if r.path == "ravingfans import"
              and (r.rate / next(b for b in runs if b.backend == r.backend).rate < GOAL_RATIO
                   or r.rss_mb >= GOAL_RSS_MB)]
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
