"""Would an index make /fans fast? Times the fans page's two slow service calls with and without candidate indexes.

The fans page runs ``scoring.segment_counts`` (customers and CLV per segment of the newest run) and
``scoring.fans`` (the run's fans, best first). On a million scored customers both scan the whole run.
This script times each call (median of ``--n``) as the schema has it, then creates each candidate index
in turn, times again, and drops it, so the benchmark database is left as it was. Candidates are only
proposals for a migration; this script never keeps them.

    .venv/bin/python bench/web_index_trial.py --backend sqlite
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import web_build as wb  # noqa: E402

CANDIDATES = {
    "sqlite": [
        ("run, segment, clv", "CREATE INDEX bench_trial_ix ON customer_scores (run_id, segment, clv)"),
        ("run, clv desc", "CREATE INDEX bench_trial_ix ON customer_scores (run_id, clv DESC, total_spend DESC, "
                          "customer_id)"),
    ],
    "postgresql": [
        ("run, segment, clv", "CREATE INDEX bench_trial_ix ON customer_scores (run_id, segment, clv)"),
        ("run, clv desc nulls last", "CREATE INDEX bench_trial_ix ON customer_scores (run_id, clv DESC NULLS LAST, "
                                     "total_spend DESC, customer_id)"),
    ],
}


def timed(database, n: int) -> dict[str, float]:  # noqa: ANN001
    """Median milliseconds of segment_counts and of fans (default view: fan segments by CLV, 50 rows)."""
    from ravingfans.services import scoring

    out: dict[str, list[float]] = {"segment_counts": [], "fans (clv)": [], "fans (recency)": []}
    for _ in range(n):
        with database.session() as session:
            t0 = time.perf_counter()
            scoring.segment_counts(session)
            out["segment_counts"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            scoring.fans(session, limit=50)
            out["fans (clv)"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            scoring.fans(session, sort="recency", limit=50)
            out["fans (recency)"].append(time.perf_counter() - t0)
    return {k: round(statistics.median(v) * 1000, 1) for k, v in out.items()}


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--n", type=int, default=5)
    args = ap.parse_args()
    from ravingfans.db import open_database

    database = open_database(wb.db_url(args.backend, args.customers, args.orders))
    print(f"{args.backend}: as the schema is: {timed(database, args.n)}")
    for label, ddl in CANDIDATES[args.backend]:
        with database.engine.begin() as conn:
            t0 = time.perf_counter()
            conn.execute(text(ddl))
            conn.execute(text("ANALYZE customer_scores"))
            built = time.perf_counter() - t0
        try:
            print(f"{args.backend}: with ({label}) [built in {built:.1f} s]: {timed(database, args.n)}")
        finally:
            with database.engine.begin() as conn:
                conn.execute(text("DROP INDEX bench_trial_ix"))
                conn.execute(text("ANALYZE customer_scores"))
    database.dispose()


if __name__ == "__main__":
    main()
