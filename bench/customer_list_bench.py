"""Time the customer list (``services.customers.list_customers``: the /customers page and its search box) on a big book.

Builds a fresh database of N synthetic customers with the checked-out code's migrations (names from a small
vocabulary with numbers, so prefixes match many or few; no statistics on SQLite, as a shop's own file has none;
ANALYZE on PostgreSQL, as its autovacuum would), then times one page (50 rows, sorted by name) for a few
queries, best of ``--repeat``. Compare two commits by running each with its own ``PYTHONPATH`` (each builds its
own database, with its own schema), alternating:

    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python bench/customer_list_bench.py --backend both
    .venv/bin/python bench/customer_list_bench.py --customers 1000000 --backend both --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

QUERIES = ("", "ann", "mcdonald12", "Anna Smith", "+1202555")
FIRSTS = ["Ann", "Anna", "Bob", "Carl", "Dana", "Eve", "Frank", "Gina", "Hank", "Ida", "Jon", "Kim", "Lea", "Max",
          "Nora", "Olaf", "Pia", "Quinn", "Rosa", "Sam"]
LASTS = ["Smith", "Jones", "Brown", "Miller", "Davis", "Garcia", "Wilson", "Moore", "Taylor", "Anderson", "McDonald",
         "Lee", "Clark", "Lewis", "Young", "Hall", "Allen", "King", "Wright", "Scott"]
COLUMNS = ("first_name", "last_name", "email", "phone", "created_at", "updated_at", "personal_details", "likes",
           "dislikes", "sizes", "attributes", "tags", "source")


def _rows(n: int) -> list[tuple[Any, ...]]:
    rnd = random.Random(1)
    stamp = "2024-01-01 00:00:00.000000"
    out = []
    for i in range(n):
        first = rnd.choice(FIRSTS) + ("" if i % 3 else str(i % 97))
        last = rnd.choice(LASTS) + str(i % 1013)
        out.append((first, last, f"{first.lower()}.{last.lower()}.{i}@example.com", f"+1202555{i:07d}"[:12],
                    stamp, stamp, "{}", "[]", "[]", "{}", "{}", "[]", "manual"))
    return out


def build(url: str, n: int) -> None:
    """A fresh database at ``url`` (created by the caller) with n customers."""
    from ravingfans.db.engine import make_engine
    from ravingfans.db.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    marks = ", ".join(["?" if engine.dialect.name == "sqlite" else "%s"] * len(COLUMNS))
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.executemany(f"INSERT INTO customers ({', '.join(COLUMNS)}) VALUES ({marks})", _rows(n))
        if engine.dialect.name == "postgresql":
            cursor.execute("ANALYZE customers")
    engine.dispose()


def measure(url: str, repeat: int) -> dict[str, dict[str, float]]:
    """Best-of-repeat milliseconds of one list page per query, and the number of matches."""
    from ravingfans.db import open_database
    from ravingfans.services.customers import list_customers

    db = open_database(url)
    out: dict[str, dict[str, float]] = {}
    for query in QUERIES:
        best, total = float("inf"), 0
        for _ in range(repeat):
            with db.session() as s:
                t0 = time.perf_counter()
                total = list_customers(s, query=query, per_page=50).total
                best = min(best, time.perf_counter() - t0)
        out[query] = {"ms": round(best * 1000, 1), "matches": total}
    db.dispose()
    return out


def _revision() -> str:
    import ravingfans

    src = Path(ravingfans.__file__).resolve().parents[2]
    got = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return got.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="server URL without a database")
    ap.add_argument("--work", type=Path, default=Path("/tmp/rf_bench"), help="folder for the SQLite file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    results: dict[str, Any] = {"revision": _revision(), "customers": args.customers, "cpu": platform.processor()
                               or platform.machine(), "load": os.getloadavg()[0]}
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        if backend == "sqlite":
            args.work.mkdir(parents=True, exist_ok=True)
            path = args.work / "customer_list.sqlite"
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                p.unlink(missing_ok=True)
            url = f"sqlite:///{path}"
        else:
            name = f"rf_bench_list_{os.getpid()}"
            admin = ["psql", "-X", "-q", f"{args.pg}/postgres", "-c"]
            quiet = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
            subprocess.run([*admin, f"DROP DATABASE IF EXISTS {name}"], check=True, env=quiet)
            subprocess.run([*admin, f"CREATE DATABASE {name}"], check=True, env=quiet)
            url = f"{args.pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
        try:
            build(url, args.customers)
            results[backend] = measure(url, args.repeat)
        finally:
            if backend == "postgresql":
                subprocess.run([*admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)
        print(backend, json.dumps(results[backend]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
