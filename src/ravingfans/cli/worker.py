"""`ravingfans worker`, `run-once` and `jobs`: run the scheduled jobs forever, once (for cron), or look at them.

The worker is APScheduler's BlockingScheduler calling :func:`ravingfans.services.jobs.run_due_jobs` every
``worker_poll_seconds`` (one call at a time, late calls coalesced); which job is due, and which worker runs it,
is decided in the database (see services/jobs.py), so any number of workers and cron runs can share it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime, tzinfo
from types import FrameType
from typing import TYPE_CHECKING

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info, stdout

if TYPE_CHECKING:
    from ravingfans.config import Settings
    from ravingfans.services.jobs import JobResult

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # tracebacks only in a configured log (RAVINGFANS_DEBUG=1), never by default


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("worker")(worker)
    app.command("run-once")(run_once)
    app.command("jobs")(jobs)


class _Stop(BaseException):
    """Raised in the main thread by SIGTERM (Ctrl-C raises KeyboardInterrupt) to leave the scheduler's loop."""


def _debug_logging() -> None:
    """With RAVINGFANS_DEBUG=1, show the log (failed jobs' tracebacks, the scheduler's doings) on stderr."""
    if os.environ.get("RAVINGFANS_DEBUG"):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for quiet in ("sqlalchemy", "alembic"):
            logging.getLogger(quiet).setLevel(logging.WARNING)
    else:
        logging.getLogger("apscheduler").addHandler(logging.NullHandler())  # its notes are not for the terminal


def _say(result: JobResult, *, zone: tzinfo | None = None) -> None:
    """One line per job run on stdout (the worker starts it with the time in the business's zone)."""
    stamp = f"{datetime.now(zone):%Y-%m-%d %H:%M:%S} " if zone is not None else ""
    stdout.print(stamp + result.line(), markup=False, highlight=False, soft_wrap=True)


def _every(minutes: int) -> str:
    """An interval in words: 'off', '15 min', '2 h', '1 day'."""
    if minutes <= 0:
        return "off"
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day" + ("s" if minutes > 1440 else "")
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def _when(moment: datetime | None, settings: Settings) -> str:
    """A moment in the business's time zone ('' when unknown)."""
    return "" if moment is None else f"{moment.astimezone(settings.zone):%Y-%m-%d %H:%M}"


def worker() -> None:
    """Run the scheduled jobs (scores, rules, campaigns, holds, outbox) until stopped with Ctrl-C or SIGTERM."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers import SchedulerNotRunningError
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    from ravingfans.services.jobs import JOBS, default_owner, run_due_jobs

    _debug_logging()
    settings = context.settings()
    db = context.database()
    owner = default_owner()
    poll = settings.worker_poll_seconds
    stopping = threading.Event()
    busy = threading.Lock()
    scheduler = BlockingScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(1)})

    def stop_scheduler() -> None:
        """Leave the scheduler's loop without waiting (the main thread waits for the job in progress)."""
        try:
            scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass  # stopped already, from the other thread

    def tick() -> None:
        """Run what is due; a database that cannot be reached is reported and tried again at the next poll."""
        with busy:
            if stopping.is_set():
                stop_scheduler()  # the stop signal was swallowed inside the scheduler: leave its loop now
                return
            try:
                run_due_jobs(db, settings, owner=owner, should_stop=stopping.is_set,
                             on_result=lambda r: None if r.idle else _say(r, zone=settings.zone))
            except Exception as exc:  # noqa: BLE001 - the worker keeps going; the next poll tries again
                log.exception("run_due_jobs failed")
                info(f"Could not run the jobs ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}); "
                     f"trying again in {poll:g} s.")

    scheduler.add_job(tick, IntervalTrigger(seconds=poll), id="run_due_jobs", coalesce=True, max_instances=1,
                      misfire_grace_time=None, next_run_time=datetime.now(UTC))
    plan = ", ".join(f"{name} {'every ' if getattr(settings, job.setting) > 0 else ''}"
                     f"{_every(getattr(settings, job.setting))}" for name, job in JOBS.items())
    info(f"Worker {owner} started: looking for due jobs every {poll:g} s ({plan}). Stop with Ctrl-C.")

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stopping.is_set():  # a second signal stops at once: the job's lease runs out and another worker redoes it
            os._exit(1)
        stopping.set()
        raise _Stop(signum)

    previous: dict[int, object] = {}
    try:
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, on_signal)
            scheduler.start()
        except (_Stop, KeyboardInterrupt):
            pass
        stopping.set()
        info("Stopping: finishing the job in progress, if any (press Ctrl-C again to stop at once).")
        stop_scheduler()
        with busy:
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        db.dispose()
    info("Worker stopped.")


def run_once(
    job: str | None = typer.Option(None, "--job", help="Run only this job, now, whether it is due or not "
                                                       "(score, rules, campaigns, holds, outbox)."),
) -> None:
    """Run every due job once and exit (for cron): 0 when all went well, 1 when any failed."""
    from ravingfans.services.jobs import run_due_jobs, run_job

    _debug_logging()
    settings = context.settings()
    db = context.database()
    try:
        if job is not None:
            results = [run_job(db, settings, job)]
            _say(results[0])
        else:
            results = run_due_jobs(db, settings, on_result=_say)
    finally:
        db.dispose()
    if not results:
        info("No job was due.")
    failed = [r.name for r in results if not r.ok]
    if failed:
        info(f"Failed: {', '.join(failed)}. They are tried again later; see: ravingfans jobs")
        sys.exit(1)


def jobs() -> None:
    """List the scheduled jobs: how often each runs, when next, how it last went, and who runs it now."""
    from rich.table import Table

    from ravingfans.services.jobs import job_states

    settings = context.settings()
    db = context.database()
    try:
        states = job_states(db, settings)
    finally:
        db.dispose()
    table = Table("job", "every", f"next run ({settings.time_zone})", "last run", "status", "runs", "summary",
                  title="Scheduled jobs")
    for s in states:
        if s.running_by:
            next_run = f"running now ({s.running_by})"
        elif s.minutes <= 0:
            next_run = "never (off)"
        else:
            next_run = _when(s.next_run_at, settings) or "at the worker's next poll"
        table.add_row(s.name, _every(s.minutes), next_run, _when(s.last_started_at, settings), s.last_status or "",
                      str(s.runs), s.last_summary)
    stdout.print(table, markup=False, highlight=False)
