"""The worker's jobs: what runs on a schedule (re-scoring, rules, campaign windows, holds, the outbox) and how a
worker claims a due job so that several workers never run the same one at once.

Each job has a row in ``scheduled_jobs`` (made the first time a worker sees the job switched on, due at once).
:func:`run_due_jobs` claims a due job with ONE conditional UPDATE::

    UPDATE scheduled_jobs SET lease_owner = :me, lease_until = :now + lease, last_started_at = :now
     WHERE name = :n AND next_run_at <= :now AND (lease_until IS NULL OR lease_until < :now)

and runs it only when that UPDATE changed exactly one row. On SQLite writers are serialised (``BEGIN
IMMEDIATE``), so the second worker's UPDATE sees the first one's lease. On PostgreSQL (READ COMMITTED) the
second worker's UPDATE waits for the first one's row lock, which is held only until the claim commits (a few
milliseconds: the claim is its own transaction, the job runs after it), then re-checks its WHERE against the
committed row, finds a live lease and changes nothing. So the same statement is correct on both databases and
``SELECT ... FOR UPDATE SKIP LOCKED`` is not needed: skipping would save that wait, nothing more.

The job then runs in its own transaction(s) and its outcome is written in another, only while the lease is
still this worker's. While it runs, a heartbeat thread pushes the lease forward every third of its length (only
while this worker still holds it), so a job that runs longer than ``job_lease_minutes`` (a first scoring of
millions of orders) is not taken for dead and run again by another worker. A worker killed at any point stops
its heartbeat with it and leaves a lease that runs out after ``job_lease_minutes``;
the next worker then runs the job again. That is safe because every job is idempotent by unique keys (tasks by
``dedupe_key``, mail by outbox ``key``, restock notices once per restock, campaigns closed once; a repeated
``score`` only adds a second snapshot of the same day, and the newest is the one used). A failed job
is recorded (``last_status`` "failed", the error in one line; the traceback goes to the log only) and retried
after ``min(interval, 5 minutes)``; it never stops the other jobs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import ScheduledJob
from ravingfans.errors import Conflict, RavingFansError, ValidationFailed
from ravingfans.wording import counted

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # tracebacks reach a configured log, never the terminal by default

RETRY_AFTER = timedelta(minutes=5)
MAX_SUMMARY = 1000
NOTHING_DONE = "Nothing to do."
"""The summary of a run that found no work (the worker prints no line for it; `ravingfans jobs` still shows it)."""
JobStatus = Literal["ok", "failed"]
JobFunction = Callable[[Database, Settings, Clock], str]


@dataclass(frozen=True, slots=True)
class Job:
    """A scheduled job: its name, what it does (returns a one-line summary) and the setting holding its interval."""

    name: str
    run: JobFunction
    setting: str  # a Settings field: minutes between runs, 0 = off
    description: str = ""

    def interval(self, settings: Settings) -> timedelta | None:
        """How often the job runs, or None when it is switched off (0 minutes)."""
        minutes = int(getattr(settings, self.setting))
        return timedelta(minutes=minutes) if minutes > 0 else None


@dataclass(frozen=True, slots=True)
class JobResult:
    """What one run of a job did: ok or failed, a summary in words, how long it took, when it runs next."""

    name: str
    status: JobStatus
    summary: str
    seconds: float
    started_at: datetime
    next_run_at: datetime | None

    @property
    def ok(self) -> bool:
        """Whether the job succeeded."""
        return self.status == "ok"

    @property
    def idle(self) -> bool:
        """Whether the run succeeded and found nothing to do (a quiet minute of the outbox, say)."""
        return self.ok and self.summary == NOTHING_DONE

    def line(self) -> str:
        """One line for people: name, status, seconds, summary."""
        return f"{self.name}: {self.status} in {self.seconds:.1f} s. {self.summary}".rstrip()


@dataclass(frozen=True, slots=True)
class JobState:
    """A job as `ravingfans jobs` shows it: its schedule, when it runs next, how it last went, who runs it now."""

    name: str
    description: str
    minutes: int  # 0 = off
    next_run_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str | None
    last_summary: str
    runs: int
    running_by: str | None  # the worker holding a live lease
    lease_until: datetime | None


class JobFailed(Exception):
    """Raised by a job that finished but did not do its work (e.g. the mail server was down); the message says why."""


# ----------------------------------------------------------------------------------------------
# The jobs (each imports what it calls, so the registry loads fast and needs nothing it does not use)
# ----------------------------------------------------------------------------------------------


def _score(database: Database, settings: Settings, clock: Clock) -> str:
    """Re-score every customer as of today and store the result as a new snapshot (as `ravingfans score`)."""
    from ravingfans.services.scoring import ledger_last_day, score_database

    if ledger_last_day(database.engine, settings) is None:
        return "No orders to score yet."
    result = score_database(database.engine, settings, clock=clock)
    note = f" {result.scoring.fallback_reason}" if result.scoring.fallback_reason else ""
    return (f"Scored {counted(result.customers, 'customer')} as of {result.observation_end.isoformat()} "
            f"(run #{result.run_id}).{note}")


def _rules(database: Database, settings: Settings, clock: Clock) -> str:
    """Evaluate the follow-up rules that are switched on: new tasks for people (never the same task twice)."""
    from ravingfans.services.rules import evaluate_rules

    with database.session(write=True) as session:
        report = evaluate_rules(session, settings, clock=clock)
    return report.summary()


def _campaigns(database: Database, settings: Settings, clock: Clock) -> str:
    """Close the campaigns whose window has ended and store their lift report."""
    from ravingfans.services.campaigns import close_due_campaigns

    with database.session(write=True) as session:
        closed = close_due_campaigns(session, settings, clock=clock)
    return f"Closed {closed} campaign(s) whose window ended." if closed else NOTHING_DONE


def _holds(database: Database, settings: Settings, clock: Clock) -> str:
    """Release expired holds, then tell waiting customers of new restocks (each in its own transaction)."""
    from ravingfans.services.restock import expire_holds, fan_out_restocks

    with database.session(write=True) as session:
        expired = expire_holds(session, clock=clock)
    with database.session(write=True) as session:
        fanned = fan_out_restocks(session, settings, clock=clock)
    if not expired and not fanned:
        return NOTHING_DONE
    return f"Released {expired} expired hold(s); queued {fanned} back-in-stock e-mail(s)."


def _outbox(database: Database, settings: Settings, clock: Clock) -> str:
    """Deliver the due e-mail of the outbox (as `ravingfans outbox send`); failed when the mail server is down."""
    from ravingfans.mail.outbox import send_pending

    report = send_pending(database, settings, clock=clock)
    if report.error:
        raise JobFailed(f"{report.summary()} Stopped: {report.error} The messages not tried stay queued.")
    return report.summary() if report.claimed else NOTHING_DONE


#: Every job, in the order a worker runs those due together (fresh scores before rules, the outbox last).
JOBS: dict[str, Job] = {job.name: job for job in (
    Job("score", _score, "job_score_minutes", "Re-score every customer and store a snapshot."),
    Job("rules", _rules, "job_rules_minutes", "Evaluate the follow-up rules: new tasks for people."),
    Job("campaigns", _campaigns, "job_campaigns_minutes", "Close campaigns whose window ended; store their lift."),
    Job("holds", _holds, "job_holds_minutes", "Release expired holds; tell waiting customers of restocks."),
    Job("outbox", _outbox, "job_outbox_minutes", "Deliver the e-mail outbox."),
)}


# ----------------------------------------------------------------------------------------------
# Claiming and running
# ----------------------------------------------------------------------------------------------


def default_owner() -> str:
    """A name for this worker, unique among workers running now: host, process id and a random suffix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _summary_of(exc: BaseException) -> str:
    """An exception as one line for people (no traceback)."""
    text = str(exc) if isinstance(exc, RavingFansError | JobFailed) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:MAX_SUMMARY]


def _schedule(database: Database, jobs: Mapping[str, Job], settings: Settings, now: datetime) -> set[str]:
    """The jobs that look due now (each is claimed next, atomically); first a row for every job switched on (due
    now when new), and a shortened interval takes effect at once. An idle poll is one SELECT and no write."""
    with database.session() as session:
        rows = session.execute(select(ScheduledJob.name, ScheduledJob.next_run_at, ScheduledJob.lease_until)
                               .where(ScheduledJob.name.in_(list(jobs))))
        stored = {name: (next_run_at, lease_until) for name, next_run_at, lease_until in rows}
    missing = [name for name in jobs if name not in stored]
    intervals = {name: job.interval(settings) for name, job in jobs.items()}
    too_late = [name for name, every in intervals.items()
                if name in stored and every and stored[name][0] > now + every]
    if missing or too_late:
        with database.session(write=True) as session:
            if missing:
                insert = pg_insert if database.dialect == "postgresql" else sqlite_insert
                session.execute(insert(ScheduledJob).values([
                    {"name": name, "next_run_at": now, "last_summary": "", "runs": 0} for name in missing
                ]).on_conflict_do_nothing(index_elements=["name"]))
            for name in too_late:
                soon = now + intervals[name]  # type: ignore[operator]
                session.execute(update(ScheduledJob).where(ScheduledJob.name == name, ScheduledJob.next_run_at > soon)
                                .values(next_run_at=soon).execution_options(synchronize_session=False))
    return set(missing) | {name for name, (next_run_at, lease_until) in stored.items()
                           if next_run_at <= now and (lease_until is None or lease_until < now)}


def _claim(database: Database, name: str, owner: str, now: datetime, lease: timedelta, *, force: bool) -> bool:
    """Take the job's lease with one conditional UPDATE; True when this worker got it (see the module's doc)."""
    due = [ScheduledJob.name == name, or_(ScheduledJob.lease_until.is_(None), ScheduledJob.lease_until < now)]
    if not force:
        due.append(ScheduledJob.next_run_at <= now)
    with database.session(write=True) as session:
        result = session.execute(update(ScheduledJob).where(*due)
                                 .values(lease_owner=owner, lease_until=now + lease, last_started_at=now)
                                 .execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined]


def _finish(database: Database, name: str, owner: str, *, status: JobStatus, summary: str, finished: datetime,
            next_run_at: datetime | None) -> None:
    """Record the outcome and free the lease, unless the lease ran out and another worker holds the job now."""
    values: dict[str, object] = {"lease_owner": None, "lease_until": None, "last_finished_at": finished,
                                 "last_status": status, "last_summary": summary, "runs": ScheduledJob.runs + 1}
    if next_run_at is not None:
        values["next_run_at"] = next_run_at
    with database.session(write=True) as session:
        mine = update(ScheduledJob).where(ScheduledJob.name == name, ScheduledJob.lease_owner == owner)
        result = session.execute(mine.values(**values).execution_options(synchronize_session=False))
        kept = result.rowcount == 1  # type: ignore[attr-defined]
    if not kept:
        log.warning("job %s finished (%s) after its lease ran out; another worker holds it now, so this outcome "
                    "is not recorded. Raise RAVINGFANS_JOB_LEASE_MINUTES above the job's longest run.", name, status)


def _release_quietly(database: Database, name: str, owner: str) -> None:
    """Give up the lease of an interrupted job without recording an outcome; its lease runs out if this fails."""
    try:
        with database.session(write=True) as session:
            session.execute(update(ScheduledJob).where(ScheduledJob.name == name, ScheduledJob.lease_owner == owner)
                            .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False))
    except Exception:  # noqa: BLE001 - already stopping; the lease runs out on its own
        log.debug("could not release the lease of job %s", name, exc_info=True)


def _renew_every(lease: timedelta) -> float:
    """Seconds between two renewals of a running job's lease: a third of the lease, so two may fail in a row."""
    return max(1.0, lease.total_seconds() / 3)


@contextmanager
def _lease_kept(database: Database, name: str, owner: str, lease: timedelta, clock: Clock) -> Iterator[None]:
    """Renew the job's lease in a background thread while the block runs, as long as this worker holds it."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(_renew_every(lease)):
            try:
                with database.session(write=True) as session:
                    held = session.execute(update(ScheduledJob).where(
                        ScheduledJob.name == name, ScheduledJob.lease_owner == owner).values(
                        lease_until=clock() + lease).execution_options(synchronize_session=False)).rowcount
            except Exception:  # noqa: BLE001 - e.g. SQLite busy under the job's own long write: try next beat
                log.warning("could not renew the lease of job %s; trying again in %.0f s", name,
                            _renew_every(lease), exc_info=True)
                continue
            if not held:  # another worker holds it now (this one was frozen past its lease): stop renewing
                log.warning("job %s: the lease passed to another worker; no longer renewing it", name)
                return

    beater = threading.Thread(target=beat, name=f"lease-{name}", daemon=True)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join()


def _run_claimed(database: Database, settings: Settings, job: Job, owner: str, started: datetime,
                 clock: Clock) -> JobResult:
    """Run a job this worker holds (its lease kept alive meanwhile) and record how it went; a failure is recorded,
    logged and retried later."""
    interval = job.interval(settings)
    began = time.monotonic()
    try:
        with _lease_kept(database, job.name, owner, timedelta(minutes=settings.job_lease_minutes), clock):
            summary = " ".join(job.run(database, settings, clock).split())[:MAX_SUMMARY]
        status: JobStatus = "ok"
        next_run_at = started + interval if interval else None
    except Exception as exc:  # noqa: BLE001 - one job's failure is recorded and must not stop the others
        log.exception("job %s failed", job.name)
        summary, status = _summary_of(exc), "failed"
        next_run_at = clock() + min(interval, RETRY_AFTER) if interval else None
    except BaseException:  # Ctrl-C or exit mid-job: free the job for the next run at once (best effort)
        _release_quietly(database, job.name, owner)
        raise
    seconds = time.monotonic() - began
    _finish(database, job.name, owner, status=status, summary=summary, finished=clock(), next_run_at=next_run_at)
    return JobResult(job.name, status, summary, seconds, started, next_run_at)


def run_due_jobs(database: Database, settings: Settings, *, clock: Clock = utcnow, owner: str | None = None,
                 jobs: Mapping[str, Job] | None = None, on_result: Callable[[JobResult], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> list[JobResult]:
    """Run every job that is switched on, due and not held by another worker, once each, in registry order.

    ``jobs`` replaces the registry (tests); ``on_result`` hears each result as soon as its job ends;
    ``should_stop`` is asked before each job (a worker told to stop finishes the job it is in, starts no other).
    """
    registry = JOBS if jobs is None else jobs
    me = owner or default_owner()
    enabled = {name: job for name, job in registry.items() if job.interval(settings) is not None}
    results: list[JobResult] = []
    if not enabled:
        return results
    due = _schedule(database, enabled, settings, clock())
    lease = timedelta(minutes=settings.job_lease_minutes)
    for name, job in enabled.items():
        if should_stop is not None and should_stop():
            break
        if name not in due:
            continue
        started = clock()
        if not _claim(database, name, me, started, lease, force=False):
            continue
        result = _run_claimed(database, settings, job, me, started, clock)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def run_job(database: Database, settings: Settings, name: str, *, clock: Clock = utcnow, owner: str | None = None,
            jobs: Mapping[str, Job] | None = None) -> JobResult:
    """Run one job now, due or not (even when switched off); refused while another worker runs it."""
    registry = JOBS if jobs is None else jobs
    job = registry.get(name)
    if job is None:
        raise ValidationFailed(f"--job: there is no job {name!r}; choose from: {', '.join(registry)}.", field="job")
    me = owner or default_owner()
    now = clock()
    _schedule(database, {name: job}, settings, now)
    if not _claim(database, name, me, now, timedelta(minutes=settings.job_lease_minutes), force=True):
        with database.session() as session:
            row = session.get(ScheduledJob, name)
        holder = f" ({row.lease_owner}, until {row.lease_until:%Y-%m-%d %H:%M} UTC)" if row and row.lease_until else ""
        raise Conflict(f"The job {name!r} is running in another worker{holder}.",
                       hint="Wait for it to finish, or see: ravingfans jobs")
    return _run_claimed(database, settings, job, me, now, clock)


def job_states(database: Database, settings: Settings, *, clock: Clock = utcnow,
               jobs: Mapping[str, Job] | None = None) -> list[JobState]:
    """Every job with its interval (0 = off), next run, last outcome and the worker running it now, if any."""
    registry = JOBS if jobs is None else jobs
    now = clock()
    with database.session() as session:
        rows = {row.name: row for row in session.scalars(select(ScheduledJob)
                                                         .where(ScheduledJob.name.in_(list(registry))))}
    states = []
    for name, job in registry.items():
        row = rows.get(name)
        live = row is not None and row.lease_until is not None and row.lease_until >= now
        states.append(JobState(
            name=name, description=job.description, minutes=int(getattr(settings, job.setting)),
            next_run_at=row.next_run_at if row else None, last_started_at=row.last_started_at if row else None,
            last_finished_at=row.last_finished_at if row else None, last_status=row.last_status if row else None,
            last_summary=row.last_summary if row else "", runs=row.runs if row else 0,
            running_by=row.lease_owner if live and row else None, lease_until=row.lease_until if live and row else None,
        ))
    return states
