"""The worker's jobs (services/jobs.py) on SQLite and PostgreSQL: schedules under a frozen clock, switched-off jobs,
failures recorded and retried, leases, forced runs, the real jobs, and workers racing for the same jobs."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mail"))  # the SMTP test server lives with the mail tests
from helpers_mail import queue_receipts  # noqa: E402
from smtp_sink import SmtpServer, free_port, running_smtp  # noqa: E402

from ravingfans.clock import Clock, fixed  # noqa: E402
from ravingfans.config import Settings  # noqa: E402
from ravingfans.db import Database  # noqa: E402
from ravingfans.db.models import Customer, OutboxMessage, ScheduledJob, ScoreRun  # noqa: E402
from ravingfans.errors import Conflict, ValidationFailed  # noqa: E402
from ravingfans.services.jobs import JOBS, Job, JobFailed, job_states, run_due_jobs, run_job  # noqa: E402

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
OFF = {"job_score_minutes": 0, "job_rules_minutes": 0, "job_campaigns_minutes": 0, "job_holds_minutes": 0,
       "job_outbox_minutes": 0}
#: Test jobs a..e borrow the interval settings of the real jobs.
JOBS_SETTING = {"a": "job_score_minutes", "b": "job_rules_minutes", "c": "job_campaigns_minutes",
                "d": "job_holds_minutes", "e": "job_outbox_minutes"}


def _settings(database_url: str, **minutes: int) -> Settings:
    """Settings with every job off but those given (minutes), and a 30-minute lease."""
    return Settings(database_url=database_url, _env_file=None, job_lease_minutes=30, **{**OFF, **minutes})


def _counting(log: list[str], name: str) -> Job:
    """A test job that notes each run in ``log`` (interval: the setting named after a real job)."""
    def run(_db: Database, _settings: Settings, clock: Clock) -> str:
        log.append(name)
        return f"{name} ran at {clock():%H:%M}"

    return Job(name, run, JOBS_SETTING[name])


def _row(db: Database, name: str) -> ScheduledJob | None:
    with db.session() as s:
        return s.get(ScheduledJob, name)


def test_jobs_run_when_due_and_not_before_and_next_run_advances(db: Database, database_url: str) -> None:
    ran: list[str] = []
    jobs = {n: _counting(ran, n) for n in ("a", "b")}
    settings = _settings(database_url, job_score_minutes=60, job_rules_minutes=15)
    first = run_due_jobs(db, settings, clock=fixed(T0), jobs=jobs)
    assert [(r.name, r.status, r.summary) for r in first] == [("a", "ok", "a ran at 09:00"),
                                                              ("b", "ok", "b ran at 09:00")]
    assert first[0].next_run_at == T0 + timedelta(minutes=60) and first[1].next_run_at == T0 + timedelta(minutes=15)
    assert run_due_jobs(db, settings, clock=fixed(T0 + timedelta(minutes=14, seconds=59)), jobs=jobs) == []
    assert [r.name for r in run_due_jobs(db, settings, clock=fixed(T0 + timedelta(minutes=15)), jobs=jobs)] == ["b"]
    assert run_due_jobs(db, settings, clock=fixed(T0 + timedelta(minutes=29)), jobs=jobs) == []
    # A late walk (the worker was down for two hours) runs each job once, not once per missed slot.
    late = run_due_jobs(db, settings, clock=fixed(T0 + timedelta(hours=3)), jobs=jobs)
    assert [r.name for r in late] == ["a", "b"]
    assert ran == ["a", "b", "b", "a", "b"]
    row = _row(db, "a")
    assert row is not None and row.runs == 2 and row.last_status == "ok" and row.last_summary == "a ran at 12:00"
    assert row.next_run_at == T0 + timedelta(hours=4) and row.last_started_at == T0 + timedelta(hours=3)
    assert row.lease_owner is None and row.lease_until is None and row.last_finished_at == T0 + timedelta(hours=3)


def test_a_week_of_hourly_runs_under_a_frozen_clock(db: Database, database_url: str) -> None:
    ran: list[str] = []
    settings = _settings(database_url, job_rules_minutes=60)
    jobs = {"b": _counting(ran, "b")}
    now = T0
    while now < T0 + timedelta(days=7):
        run_due_jobs(db, settings, clock=fixed(now), jobs=jobs)
        now += timedelta(minutes=30)  # the worker polls every 30 minutes
    assert len(ran) == 7 * 24
    assert _row(db, "b").runs == 7 * 24  # type: ignore[union-attr]


def test_switched_off_jobs_never_run(db: Database, database_url: str) -> None:
    ran: list[str] = []
    jobs = {n: _counting(ran, n) for n in ("a", "b", "e")}
    settings = _settings(database_url, job_rules_minutes=5)
    for step in range(10):
        run_due_jobs(db, settings, clock=fixed(T0 + timedelta(days=step)), jobs=jobs)
    assert ran == ["b"] * 10
    assert _row(db, "a") is None and _row(db, "e") is None  # no schedule is even kept for them
    states = {s.name: s for s in job_states(db, settings, clock=fixed(T0), jobs=jobs)}
    assert states["a"].minutes == 0 and states["b"].minutes == 5 and states["b"].runs == 10
    assert run_due_jobs(db, _settings(database_url), clock=fixed(T0), jobs=jobs) == []  # all off: nothing at all


def test_a_failing_job_is_recorded_retried_and_does_not_stop_the_others(db: Database, database_url: str) -> None:
    ran: list[str] = []
    attempts: list[datetime] = []

    def flaky(_db: Database, _settings: Settings, clock: Clock) -> str:
        attempts.append(clock())
        if len(attempts) < 3:
            raise RuntimeError("the shop's till server\nis down")
        return "worked"

    jobs = {"a": _counting(ran, "a"), "b": Job("b", flaky, "job_rules_minutes"), "c": _counting(ran, "c")}
    settings = _settings(database_url, job_score_minutes=60, job_rules_minutes=60, job_campaigns_minutes=60)
    results = run_due_jobs(db, settings, clock=fixed(T0), jobs=jobs)
    assert [(r.name, r.status) for r in results] == [("a", "ok"), ("b", "failed"), ("c", "ok")]
    assert results[1].summary == "RuntimeError: the shop's till server is down"  # one line, no traceback
    row = _row(db, "b")
    assert row is not None and row.last_status == "failed" and row.lease_owner is None and row.runs == 1
    assert row.next_run_at == T0 + timedelta(minutes=5)  # retried after min(interval, 5 minutes)
    assert run_due_jobs(db, settings, clock=fixed(T0 + timedelta(minutes=4)), jobs=jobs) == []
    again = run_due_jobs(db, settings, clock=fixed(T0 + timedelta(minutes=5)), jobs=jobs)
    assert [(r.name, r.status) for r in again] == [("b", "failed")]
    done = run_due_jobs(db, settings, clock=fixed(T0 + timedelta(minutes=10)), jobs=jobs)
    assert [(r.name, r.status, r.summary) for r in done] == [("b", "ok", "worked")]
    assert _row(db, "b").next_run_at == T0 + timedelta(minutes=70)  # type: ignore[union-attr]
    assert ran == ["a", "c"]


def test_a_short_interval_retries_sooner_and_job_errors_read_as_written(db: Database, database_url: str) -> None:
    def refuses(_db: Database, _settings: Settings, _clock: Clock) -> str:
        raise JobFailed("Sent 0. Stopped: the mail server at mail.example:25 could not be reached.")

    def invalid(_db: Database, _settings: Settings, _clock: Clock) -> str:
        raise ValidationFailed("There are no orders to score yet.", field="orders", hint="Import orders first.")

    jobs = {"e": Job("e", refuses, "job_outbox_minutes"), "a": Job("a", invalid, "job_score_minutes")}
    settings = _settings(database_url, job_outbox_minutes=1, job_score_minutes=1440)
    results = {r.name: r for r in run_due_jobs(db, settings, clock=fixed(T0), jobs=jobs)}
    assert results["e"].summary == "Sent 0. Stopped: the mail server at mail.example:25 could not be reached."
    assert results["a"].summary == "There are no orders to score yet. Import orders first."
    assert results["e"].next_run_at == T0 + timedelta(minutes=1)
    assert results["a"].next_run_at == T0 + timedelta(minutes=5)


def test_a_dead_workers_lease_holds_the_job_until_it_runs_out(db: Database, database_url: str) -> None:
    ran: list[str] = []
    jobs = {"b": _counting(ran, "b")}
    settings = _settings(database_url, job_rules_minutes=60)
    run_due_jobs(db, settings, clock=fixed(T0), jobs=jobs)
    due = T0 + timedelta(minutes=60)
    with db.session(write=True) as s:  # a worker claimed it at `due`, then was killed (its lease stays behind)
        s.execute(update(ScheduledJob).where(ScheduledJob.name == "b")
                  .values(lease_owner="dead:1", lease_until=due + timedelta(minutes=30), last_started_at=due))
    assert run_due_jobs(db, settings, clock=fixed(due + timedelta(minutes=29)), jobs=jobs) == []
    states = job_states(db, settings, clock=fixed(due + timedelta(minutes=29)), jobs=jobs)
    assert states[0].running_by == "dead:1"
    with pytest.raises(Conflict, match="running in another worker \\(dead:1"):
        run_job(db, settings, "b", clock=fixed(due + timedelta(minutes=29)), jobs=jobs)
    later = due + timedelta(minutes=31)
    assert [r.status for r in run_due_jobs(db, settings, clock=fixed(later), owner="w2", jobs=jobs)] == ["ok"]
    assert ran == ["b", "b"]
    row = _row(db, "b")
    assert row is not None and row.lease_owner is None and row.runs == 2
    assert row.next_run_at == later + timedelta(hours=1)
    assert job_states(db, settings, clock=fixed(later), jobs=jobs)[0].running_by is None


def test_a_worker_that_lost_its_lease_does_not_overwrite_the_new_holder(db: Database, database_url: str) -> None:
    def slow(database: Database, _settings: Settings, clock: Clock) -> str:
        with database.session(write=True) as s:  # meanwhile the lease ran out and another worker took the job
            s.execute(update(ScheduledJob).where(ScheduledJob.name == "b")
                      .values(lease_owner="w2", lease_until=clock() + timedelta(hours=1)))
        return "finished late"

    settings = _settings(database_url, job_rules_minutes=60)
    result = run_due_jobs(db, settings, clock=fixed(T0), owner="w1", jobs={"b": Job("b", slow, "job_rules_minutes")})
    assert [r.summary for r in result] == ["finished late"]
    row = _row(db, "b")
    assert row is not None and row.lease_owner == "w2" and row.runs == 0 and row.last_status is None


def test_interrupting_a_job_frees_it_at_once(db: Database, database_url: str) -> None:
    def interrupted(_db: Database, _settings: Settings, _clock: Clock) -> str:
        raise KeyboardInterrupt

    settings = _settings(database_url, job_rules_minutes=60)
    with pytest.raises(KeyboardInterrupt):
        run_due_jobs(db, settings, clock=fixed(T0), jobs={"b": Job("b", interrupted, "job_rules_minutes")})
    row = _row(db, "b")
    assert row is not None and row.lease_owner is None and row.runs == 0 and row.next_run_at == T0


def test_run_job_forces_a_job_that_is_not_due(db: Database, database_url: str) -> None:
    ran: list[str] = []
    jobs = {"a": _counting(ran, "a"), "b": _counting(ran, "b")}
    settings = _settings(database_url, job_rules_minutes=60)
    run_due_jobs(db, settings, clock=fixed(T0), jobs=jobs)
    result = run_job(db, settings, "b", clock=fixed(T0 + timedelta(minutes=10)), jobs=jobs)
    assert result.ok and result.next_run_at == T0 + timedelta(minutes=70)
    off = run_job(db, settings, "a", clock=fixed(T0 + timedelta(minutes=10)), jobs=jobs)  # switched off: runs anyway
    assert off.ok and off.next_run_at is None
    assert ran == ["b", "b", "a"]
    assert run_due_jobs(db, settings, clock=fixed(T0 + timedelta(minutes=60)), jobs=jobs) == []  # b not due: forced
    with pytest.raises(ValidationFailed, match="no job 'nope'; choose from: a, b"):
        run_job(db, settings, "nope", jobs=jobs)


def test_a_shortened_interval_takes_effect_at_once(db: Database, database_url: str) -> None:
    ran: list[str] = []
    jobs = {"a": _counting(ran, "a")}
    run_due_jobs(db, _settings(database_url, job_score_minutes=1440), clock=fixed(T0), jobs=jobs)
    hourly = _settings(database_url, job_score_minutes=60)
    assert run_due_jobs(db, hourly, clock=fixed(T0 + timedelta(minutes=30)), jobs=jobs) == []
    assert _row(db, "a").next_run_at == T0 + timedelta(minutes=90)  # type: ignore[union-attr]
    assert [r.name for r in run_due_jobs(db, hourly, clock=fixed(T0 + timedelta(minutes=90)), jobs=jobs)] == ["a"]


def test_the_registry_names_the_five_jobs_and_their_settings() -> None:
    assert {n: j.setting for n, j in JOBS.items()} == {
        "score": "job_score_minutes", "rules": "job_rules_minutes", "campaigns": "job_campaigns_minutes",
        "holds": "job_holds_minutes", "outbox": "job_outbox_minutes"}


# ----------------------------------------------------------------------------------------------
# Workers racing: each job once per due time, on SQLite and on PostgreSQL
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def run_log(db: Database) -> Iterator[Table]:
    """A table the racing test jobs write one row per run into (made for this test, dropped after)."""
    table = Table("test_job_runs", MetaData(), Column("id", Integer, primary_key=True, autoincrement=True),
                  Column("job", String(40)), Column("round", Integer), Column("owner", String(64)))
    table.create(db.engine)
    yield table
    table.drop(db.engine)


def test_workers_racing_do_each_job_once(db: Database, database_url: str, run_log: Table) -> None:
    names = ("a", "b", "c", "d", "e")
    rounds, workers = 6, 4
    settings = _settings(database_url, **{JOBS_SETTING[n]: 60 for n in names})
    current = {"round": 0}

    def logging_job(name: str) -> Job:
        def run(database: Database, _settings: Settings, _clock: Clock) -> str:
            time.sleep(0.02)  # long enough for the other workers to try the same job meanwhile
            with database.session(write=True) as s:
                s.execute(insert(run_log).values(job=name, round=current["round"],
                                                 owner=threading.current_thread().name))
            return "logged"
        return Job(name, run, JOBS_SETTING[name])

    jobs = {n: logging_job(n) for n in names}
    for round_ in range(rounds):
        current["round"] = round_
        clock = fixed(T0 + timedelta(hours=round_))
        barrier = threading.Barrier(workers)
        results: dict[str, list[str]] = {}
        errors: list[BaseException] = []

        def work(me: str, clock: Clock = clock, barrier: threading.Barrier = barrier,
                 results: dict[str, list[str]] = results, errors: list[BaseException] = errors) -> None:
            try:
                barrier.wait(10)
                results[me] = [r.name for r in run_due_jobs(db, settings, clock=clock, owner=me, jobs=jobs)]
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(f"w{i}",), name=f"w{i}") for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        claimed = sorted(n for got in results.values() for n in got)
        assert claimed == sorted(names), f"round {round_}: {results}"
    with db.session() as s:
        counts = s.execute(select(run_log.c.job, run_log.c.round, func.count())
                           .group_by(run_log.c.job, run_log.c.round))
        per_slot = {(job, round_): n for job, round_, n in counts}
    assert per_slot == {(n, r): 1 for n in names for r in range(rounds)}
    with db.session() as s:
        assert set(s.scalars(select(ScheduledJob.runs))) == {rounds}


# ----------------------------------------------------------------------------------------------
# The real jobs
# ----------------------------------------------------------------------------------------------


def test_score_job_stores_a_snapshot_and_waits_for_orders(db: Database, database_url: str) -> None:
    from ravingfans.demo.generator import generate
    from ravingfans.demo.load import load

    settings = _settings(database_url, job_score_minutes=1440)
    empty = run_due_jobs(db, settings, clock=fixed(T0))
    assert [(r.name, r.status, r.summary) for r in empty] == [("score", "ok", "No orders to score yet.")]
    business = generate(seed=3, customers=60, years=2)
    load(business, db.engine)
    shop = settings.model_copy(update={"time_zone": business.time_zone})
    assert run_due_jobs(db, shop, clock=fixed(T0 + timedelta(hours=23))) == []  # not due for a day
    results = run_due_jobs(db, shop, clock=fixed(T0 + timedelta(days=1)))
    assert [(r.name, r.status) for r in results] == [("score", "ok")]
    with db.session() as s:
        run = s.scalar(select(ScoreRun))
        assert run is not None and s.scalar(select(func.count()).select_from(ScoreRun)) == 1
    assert run.observation_end == (T0 + timedelta(days=1)).astimezone(shop.zone).date()  # the job's clock, not now
    assert results[0].summary.startswith(f"Scored {run.customers:,} customers as of {run.observation_end}")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server for this test."""
    with running_smtp() as server:
        yield server


def test_outbox_job_delivers_and_fails_while_the_mail_server_is_down(db: Database, database_url: str,
                                                                      smtp: SmtpServer) -> None:
    queue_receipts(db, database_url, 3, sender="hello@shoe.example", at=T0)
    down = _settings(database_url, job_outbox_minutes=1).model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_timeout_seconds": 2,
        "mail_from": "hello@shoe.example"})
    failed = run_due_jobs(db, down, clock=fixed(T0))
    assert [r.status for r in failed] == ["failed"] and "Stopped:" in failed[0].summary
    assert failed[0].next_run_at == T0 + timedelta(minutes=1)
    up = down.model_copy(update={"smtp_port": smtp.port})
    results = run_due_jobs(db, up, clock=fixed(T0 + timedelta(minutes=1)))
    assert [(r.name, r.status) for r in results] == [("outbox", "ok")] and results[0].summary.startswith("Sent 3;")
    assert len(smtp.sink.messages) == 3
    with db.session() as s:
        assert set(s.scalars(select(OutboxMessage.status))) == {"sent"}
    [quiet] = run_due_jobs(db, up, clock=fixed(T0 + timedelta(minutes=2)))  # a minute with nothing queued
    assert quiet.idle and quiet.summary == "Nothing to do." and len(smtp.sink.messages) == 3


def test_rules_job_evaluates_the_rules_with_the_workers_clock(db: Database, database_url: str) -> None:
    pytest.importorskip("ravingfans.services.rules", reason="services/rules.py (the rules part of #6) is not there yet")
    result = run_job(db, _settings(database_url, job_rules_minutes=60), "rules", clock=fixed(T0))
    assert result.status == "ok", result.summary
    assert result.summary.startswith("Follow-up rules on 2026-11-02")


def test_campaigns_job_closes_due_campaigns(db: Database, database_url: str) -> None:
    pytest.importorskip("ravingfans.services.campaigns",
                        reason="services/campaigns.py (the campaigns part of #6) is not there yet")
    result = run_job(db, _settings(database_url, job_campaigns_minutes=60), "campaigns", clock=fixed(T0))
    assert (result.status, result.summary, result.idle) == ("ok", "Nothing to do.", True)


def test_holds_job_releases_expired_holds(db: Database, database_url: str) -> None:
    pytest.importorskip("ravingfans.services.restock",
                        reason="services/restock.py (back in stock, #6) is not there yet")
    from ravingfans.db.models import Hold, Product, ProductVariant

    with db.session(write=True) as s:
        customer = Customer(first_name="Ana", email="ana@example.com", created_at=T0, updated_at=T0)
        product = Product(external_id="p1", name="Walking shoe", created_at=T0)
        s.add_all([customer, product])
        s.flush()
        variant = ProductVariant(product_id=product.id, sku="WS-38", size="38", price=Decimal("80"), stock=1,
                                 updated_at=T0)
        s.add(variant)
        s.flush()
        s.add(Hold(customer_id=customer.id, variant_id=variant.id, created_at=T0, expires_at=T0 + timedelta(days=7)))
    settings = _settings(database_url, job_holds_minutes=15)
    early = run_job(db, settings, "holds", clock=fixed(T0 + timedelta(days=6)))
    assert early.idle and early.summary == "Nothing to do."  # the worker prints no line for it
    late = run_job(db, settings, "holds", clock=fixed(T0 + timedelta(days=7, minutes=1)))
    assert late.ok and not late.idle and late.summary.startswith("Released 1 expired hold(s)"), late.summary
    with db.session() as s:
        assert s.scalar(select(Hold.release_reason)) == "expired"


def test_a_job_longer_than_its_lease_keeps_it(db: Database, database_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # The clock runs 600x fast: the job's 0.3 s is three minutes, three times its one-minute lease. The heartbeat
    # (shortened from 20 s to 0.02 s) keeps the lease ahead, so no other worker may take the job meanwhile.
    from ravingfans.services import jobs as jobs_module

    monkeypatch.setattr(jobs_module, "_renew_every", lambda _lease: 0.02)
    began = time.monotonic()

    def fast() -> datetime:
        return T0 + timedelta(seconds=600 * (time.monotonic() - began))

    seen: list[str | None] = []

    def long_job(database: Database, settings: Settings, clock: Clock) -> str:
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            time.sleep(0.05)
            seen.append(job_states(database, settings, clock=clock, jobs=jobs)[0].running_by)
        assert run_due_jobs(database, settings, clock=clock, owner="w2", jobs=jobs) == []  # not due for w2
        return "long done"

    jobs = {"b": Job("b", long_job, "job_rules_minutes")}
    settings = Settings(database_url=database_url, _env_file=None, job_lease_minutes=1,
                        **{**OFF, "job_rules_minutes": 60})
    result = run_due_jobs(db, settings, clock=fast, owner="w1", jobs=jobs)
    assert [r.summary for r in result] == ["long done"]
    assert fast() - T0 > timedelta(minutes=2) and seen and set(seen) == {"w1"}
    row = _row(db, "b")
    assert row is not None and row.lease_owner is None and row.runs == 1 and row.last_status == "ok"
