"""Time one full pass of the follow-up rules over a database: seconds, peak memory, tasks created per second.

Every standard rule is switched on and forgotten (``last_evaluated_at`` cleared), so the pass is the largest
one a business ever sees: the first, looking a whole week back (``rules.CATCH_UP_DAYS``). Then, in the same
transaction, the same day's next hourly pass (the rules of whole days have run today: only new misery
moments are looked for) and the next day's pass (one day of occasions: the steady daily cost). Afterwards
the transaction is ROLLED BACK, so the database is left as it was (``--keep`` commits instead).

The pass runs in a child process, so its peak resident memory (``ru_maxrss``) is the pass's own and not
the parent's; the resident memory after the imports, before the pass, is reported beside it.
The pass's CPU time in that process is reported too: on SQLite it is all of the work (the database runs in
the process), so it says what the pass costs on a quiet machine; on PostgreSQL the server's share is not in it.
``--tracemalloc`` also reports the peak of Python's own allocations during the pass (slower).

    .venv/bin/python bench/rules_bench.py sqlite:///bench/.data/web-1000000-10000000.db
    .venv/bin/python bench/rules_bench.py postgresql+psycopg://postgres@127.0.0.1:5432/bench_web --json out.json

The business day defaults to the day after the ledger's last order (the benchmark data end on 2026-11-29,
scored as of that day); the business zone is RAVINGFANS_TIME_ZONE, else the benchmark's (Los Angeles).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

TIME_ZONE = "America/Los_Angeles"  # bench/web_build.py's


def _cpu() -> float:
    """CPU seconds this process has used (user and system): the pass's own work, whatever else the machine runs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(url: str, today: str | None, keep: bool, trace: bool) -> dict[str, Any]:
    """The measured pass (in this process); what it found and cost."""
    os.environ.setdefault("RAVINGFANS_TIME_ZONE", TIME_ZONE)
    from sqlalchemy import func, select, update
    from sqlalchemy.orm import Session

    from ravingfans.clock import fixed
    from ravingfans.config import Settings
    from ravingfans.db import open_database
    from ravingfans.db.models import Customer, FollowUpRule, Interaction, Order, Task
    from ravingfans.services import rules
    from ravingfans.services.runs import latest_run
    from ravingfans.services.scoring import ledger_last_day

    settings = Settings(database_url=url)
    db = open_database(url)
    day = date.fromisoformat(today) if today else (ledger_last_day(db.engine, settings) or date.today()) + \
        timedelta(days=1)
    start = datetime.combine(day, day_time(9), tzinfo=settings.zone)
    with db.session() as session:  # a pass after the latest scoring run, as the worker's would be
        run = latest_run(session)
    if run is not None and run.created_at >= start and run.created_at.astimezone(settings.zone).date() == day:
        start = run.created_at + timedelta(minutes=1)
    clock = fixed(start)
    bind = db.engine.execution_options(sqlite_begin="IMMEDIATE") if db.dialect == "sqlite" else db.engine
    with Session(bind=bind) as session:
        sizes = {name: session.scalar(select(func.count()).select_from(model))
                 for name, model in (("customers", Customer), ("orders", Order), ("interactions", Interaction),
                                     ("tasks before", Task))}
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rules.ensure_rules(session, enable_standard=True, clock=clock)
        session.execute(update(FollowUpRule).values(last_evaluated_at=None))
        session.flush()
        if trace:
            import tracemalloc

            tracemalloc.start()
        t0, cpu0 = time.perf_counter(), _cpu()
        report = rules.evaluate_rules(session, settings, clock=clock)
        session.flush()
        first_s, first_cpu = time.perf_counter() - t0, _cpu() - cpu0
        traced = None
        if trace:
            traced = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        passes = {}
        for label, moment in (("hourly", clock() + timedelta(hours=1)), ("next_day", clock() + timedelta(days=1))):
            t1 = time.perf_counter()
            again = rules.evaluate_rules(session, settings, clock=fixed(moment))
            session.flush()
            passes[label] = {"s": round(time.perf_counter() - t1, 2), "created": again.total,
                             "per_rule_s": {k: round(v, 2) for k, v in again.seconds.items()},
                             "skipped": again.skipped}
        t2 = time.perf_counter()
        if keep:
            session.commit()
        else:
            session.rollback()
        end_s = time.perf_counter() - t2
    db.dispose()
    return {
        "url": url.split("@")[-1], "dialect": db.dialect, "today": day.isoformat(), "at": clock().isoformat(),
        "sizes": sizes,
        "first_pass_s": round(first_s, 2), "first_pass_cpu_s": round(first_cpu, 2), "created": report.created,
        "candidates": report.candidates,
        "skipped": report.skipped, "per_rule_s": {k: round(v, 2) for k, v in report.seconds.items()},
        "tasks_per_s": round(report.total / first_s) if first_s else None, "total_created": report.total,
        "hourly_pass": passes["hourly"], "next_day_pass": passes["next_day"],
        "commit_s" if keep else "rollback_s": round(end_s, 2),
        "peak_rss_mib": round(rss_after / 1024, 1), "rss_before_pass_mib": round(rss_before / 1024, 1),
        "tracemalloc_peak_mib": round(traced / 2**20, 1) if traced is not None else None,
    }


def main() -> None:
    """Command line: run the pass in a child process and print what it measured."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="the database: sqlite:///PATH or postgresql+psycopg://...")
    ap.add_argument("--today", help="the business day of the pass, YYYY-MM-DD (default: the day after the "
                                    "ledger's last order)")
    ap.add_argument("--keep", action="store_true", help="commit the tasks instead of rolling back")
    ap.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.url, args.today, args.keep, args.tracemalloc)))
        return
    command = [sys.executable, __file__, "--child", args.url]
    command += ["--today", args.today] if args.today else []
    command += ["--keep"] if args.keep else []
    command += ["--tracemalloc"] if args.tracemalloc else []
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the pass failed ({done.returncode}):\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_wall_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    print(f"\n{figures['dialect']}: one full pass {figures['first_pass_s']} s ({figures['first_pass_cpu_s']} s of CPU "
          f"in this process), {figures['total_created']:,} tasks "
          f"({figures['tasks_per_s']:,}/s), peak RSS {figures['peak_rss_mib']} MiB; the next day's pass "
          f"{figures['next_day_pass']['s']} s ({figures['next_day_pass']['created']:,} new), an hourly pass "
          f"{figures['hourly_pass']['s']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
