"""A customer's value on the profile page as scoring runs pile up (issue #4): milliseconds per read.

The worker scores every night, so after two months each profile view reads a customer's value with sixty past
runs behind it. This loads the demo generator's business (400 customers by default) into a fresh SQLite
database, scores it once, times ``customer_value`` for the best fan, scores it again week by week back to
``--runs`` runs, and times it again. Run the older code with its source on ``PYTHONPATH`` (a ``git worktree``),
alternating, to compare.

    .venv/bin/python bench/value_history.py --runs 60
    PYTHONPATH=/tmp/old/src .venv/bin/python bench/value_history.py --runs 60
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from ravingfans.clock import fixed
from ravingfans.config import Settings
from ravingfans.db.engine import make_engine
from ravingfans.db.migrate import upgrade
from ravingfans.demo.generator import generate
from ravingfans.demo.load import load
from ravingfans.services import scoring

NOW = fixed(datetime(2026, 11, 2, 12, tzinfo=UTC))
END = date(2026, 10, 31)


def per_call_ms(engine: object, settings: Settings, calls: int) -> float:
    """Milliseconds per ``customer_value`` of the best fan, each call with an empty identity map."""
    with Session(engine) as session:  # type: ignore[arg-type]
        best = scoring.fans(session, limit=1)[0].customer_id
        for _ in range(20):
            scoring.customer_value(session, best, settings)
        started = time.perf_counter()
        for _ in range(calls):
            session.expunge_all()
            scoring.customer_value(session, best, settings)
        return (time.perf_counter() - started) / calls * 1000


def main(argv: list[str] | None = None) -> int:
    """Score, time, score back to --runs runs, time again; print both figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--customers", type=int, default=400)
    ap.add_argument("--calls", type=int, default=300)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'history.db'}"
        engine = make_engine(url)
        upgrade(engine)
        business = generate(seed=11, customers=args.customers, years=2)
        load(business, engine)
        settings = Settings(database_url=url, _env_file=None, time_zone=business.time_zone)
        scoring.score_database(engine, settings, until=END, clock=NOW)
        one = per_call_ms(engine, settings, args.calls)
        for week in range(1, args.runs):
            scoring.score_database(engine, settings, until=END - timedelta(days=7 * week), clock=NOW)
        many = per_call_ms(engine, settings, args.calls)
        engine.dispose()
    print(f"customer_value: {one:.2f} ms with 1 run, {many:.2f} ms with {args.runs} runs "
          f"({args.customers} customers, {scoring.__file__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
