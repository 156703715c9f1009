"""`ravingfans run-once`, `jobs` and `worker`: in-process, and as real processes that are SIGTERMed, Ctrl-C'd and
SIGKILLed mid-job, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mail"))  # the SMTP test server lives with the mail tests
from helpers_mail import queue_receipts  # noqa: E402
from smtp_sink import SmtpServer, Stall, free_port, running_smtp  # noqa: E402

from ravingfans.clock import utcnow  # noqa: E402
from ravingfans.config import Settings  # noqa: E402
from ravingfans.db import Database  # noqa: E402
from ravingfans.db.models import OutboxMessage, ScheduledJob  # noqa: E402
from ravingfans.mail import message_id_for  # noqa: E402
from ravingfans.services.jobs import job_states, run_due_jobs  # noqa: E402

Run = Callable[[list[str]], int]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SENDER = "hello@shoe.example"
ONLY_OUTBOX = {"JOB_SCORE_MINUTES": "0", "JOB_RULES_MINUTES": "0", "JOB_CAMPAIGNS_MINUTES": "0",
               "JOB_HOLDS_MINUTES": "0", "JOB_OUTBOX_MINUTES": "1"}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server for this test."""
    with running_smtp() as server:
        yield server


def _env(database_url: str, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    """RAVINGFANS_* for a command that only delivers the outbox, to the test server."""
    return {"DATABASE_URL": database_url, "SMTP_HOST": smtp.host, "SMTP_PORT": str(smtp.port),
            "SMTP_TIMEOUT_SECONDS": "3", "MAIL_FROM": SENDER, **ONLY_OUTBOX, **extra}


def _queue(db: Database, database_url: str, n: int) -> list[str]:
    """n service messages in the outbox; their keys."""
    return queue_receipts(db, database_url, n, sender=SENDER, at=T0)


def _statuses(db: Database) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(OutboxMessage.status)))


def _job(db: Database, name: str) -> ScheduledJob | None:
    with db.session() as s:
        return s.get(ScheduledJob, name)


# ----------------------------------------------------------------------------------------------
# In-process
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(database_url: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI pointed at this test's database and SMTP server, with only the outbox job on."""
    for name, value in _env(database_url, smtp).items():
        monkeypatch.setenv(f"RAVINGFANS_{name}", value)


def test_run_once_runs_what_is_due_then_nothing(cli_env: None, run_cli: Run, db: Database, database_url: str,
                                                smtp: SmtpServer, capsys: pytest.CaptureFixture[str]) -> None:
    _queue(db, database_url, 2)
    assert run_cli(["run-once"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("outbox: ok in ") and "Sent 2;" in out and "score" not in out
    assert len(smtp.sink.messages) == 2 and _statuses(db) == {"sent"}
    assert run_cli(["run-once"]) == 0  # the outbox is next due in a minute
    captured = capsys.readouterr()
    assert captured.out == "" and "No job was due." in captured.err


def test_run_once_exits_1_when_a_job_fails(cli_env: None, run_cli: Run, db: Database, database_url: str,
                                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _queue(db, database_url, 1)
    monkeypatch.setenv("RAVINGFANS_SMTP_PORT", str(free_port()))  # nobody listens there
    assert run_cli(["run-once"]) == 1
    captured = capsys.readouterr()
    assert "outbox: failed in " in captured.out and "Stopped:" in captured.out
    assert "Failed: outbox." in captured.err and "Traceback" not in captured.out + captured.err
    row = _job(db, "outbox")
    assert row is not None and row.last_status == "failed" and _statuses(db) == {"pending"}


def test_run_once_job_forces_one_job(cli_env: None, run_cli: Run, db: Database,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["run-once", "--job", "score"]) == 0  # switched off (0 minutes), forced anyway
    assert capsys.readouterr().out.startswith("score: ok in ")
    row = _job(db, "score")
    assert row is not None and row.runs == 1 and row.last_summary == "No orders to score yet."
    assert run_cli(["run-once", "--job", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--job: there is no job 'nope'; choose from: score, rules, campaigns, holds, outbox." in err


def test_jobs_lists_schedule_and_last_outcome(cli_env: None, run_cli: Run, db: Database, database_url: str,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    _queue(db, database_url, 1)
    assert run_cli(["run-once"]) == 0
    capsys.readouterr()
    assert run_cli(["jobs"]) == 0
    lines = {line.split("│")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.count("│") > 2}
    assert {"score", "rules", "campaigns", "holds", "outbox"} <= set(lines)
    assert "never (off)" in lines["score"] and "off" in lines["rules"]
    assert "1 min" in lines["outbox"] and " ok " in lines["outbox"] and "Sent 1;" in lines["outbox"]


# ----------------------------------------------------------------------------------------------
# Real processes
# ----------------------------------------------------------------------------------------------


def _start(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """`ravingfans ARGS` as a child process with these RAVINGFANS_* settings; its stdout and stderr files."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("RAVINGFANS_")}
    full.update({f"RAVINGFANS_{k}": v for k, v in env.items()})
    out, err = tmp_path / f"out-{time.monotonic_ns()}.txt", tmp_path / f"err-{time.monotonic_ns()}.txt"
    process = subprocess.Popen([sys.executable, "-c", "from ravingfans.cli import main; main()", *args], env=full,
                               stdout=out.open("wb"), stderr=err.open("wb"), cwd=tmp_path)
    return process, out, err


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_during_the_outbox_job_loses_nothing_and_sends_nothing_twice(
        db: Database, database_url: str, smtp: SmtpServer, tmp_path: Path) -> None:
    keys = _queue(db, database_url, 3)
    stall = smtp.sink.stall_at_mail = Stall()  # the server holds the first message's MAIL FROM
    process, _out, err = _start(["run-once", "--job", "outbox"], _env(database_url, smtp), tmp_path)
    try:
        assert stall.reached.wait(30), f"the job never started sending: {err.read_text()}"
        row = _job(db, "outbox")
        assert row is not None and row.lease_owner and _statuses(db) == {"sending"}  # mid-job, all claimed
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        stall.release()
    assert smtp.sink.messages == []
    settings = Settings(database_url=database_url, smtp_host=smtp.host, smtp_port=smtp.port, smtp_timeout_seconds=3,
                        mail_from=SENDER, _env_file=None, **{k.lower(): int(v) for k, v in ONLY_OUTBOX.items()})
    # Until its lease runs out the dead worker still holds the job: nobody runs it.
    assert run_due_jobs(db, settings) == []
    assert job_states(db, settings)[-1].running_by == row.lease_owner
    lease_ran_out = timedelta(minutes=settings.job_lease_minutes + 1)
    results = run_due_jobs(db, settings, clock=lambda: utcnow() + lease_ran_out)
    assert [(r.name, r.status) for r in results] == [("outbox", "ok")] and results[0].summary.startswith("Sent 3;")
    assert sorted(smtp.sink.message_ids()) == sorted(message_id_for(k, SENDER) for k in keys)  # once each, on the wire
    assert _statuses(db) == {"sent"}
    row = _job(db, "outbox")
    assert row is not None and row.runs == 1 and row.last_status == "ok" and row.lease_owner is None


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_worker_runs_due_jobs_and_stops_cleanly(db: Database, database_url: str, smtp: SmtpServer, tmp_path: Path,
                                                stop: signal.Signals) -> None:
    keys = _queue(db, database_url, 2)
    process, out, err = _start(["worker"], _env(database_url, smtp, WORKER_POLL_SECONDS="1"), tmp_path)
    try:
        _wait_for(lambda: (row := _job(db, "outbox")) is not None and row.runs >= 1 or process.poll() is not None,
                  "the worker's first run")
        assert process.poll() is None, err.read_text()
        process.send_signal(stop)
        assert process.wait(30) == 0, err.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert sorted(smtp.sink.message_ids()) == sorted(message_id_for(k, SENDER) for k in keys)
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and " outbox: ok in " in lines[0] and "Sent 2;" in lines[0]
    messages = err.read_text()
    assert "started: looking for due jobs every 1 s" in messages and "score off" in messages
    assert messages.rstrip().endswith("Worker stopped.") and "Traceback" not in messages


@pytest.mark.slow
def test_sigterm_mid_job_lets_the_job_finish(db: Database, database_url: str, smtp: SmtpServer, tmp_path: Path) -> None:
    _queue(db, database_url, 2)
    stall = smtp.sink.stall_at_mail = Stall()
    env = _env(database_url, smtp, WORKER_POLL_SECONDS="1", SMTP_TIMEOUT_SECONDS="20")  # the stall is no timeout
    process, out, err = _start(["worker"], env, tmp_path)
    try:
        assert stall.reached.wait(30), err.read_text()
        process.send_signal(signal.SIGTERM)
        _wait_for(lambda: "Stopping" in err.read_text(), "the worker to say it is stopping")
        time.sleep(0.3)
        assert process.poll() is None  # still finishing the job
        stall.release()
        assert process.wait(30) == 0, err.read_text()
    finally:
        stall.release()
        if process.poll() is None:
            process.kill()
    assert len(smtp.sink.messages) == 2 and _statuses(db) == {"sent"}
    assert "Sent 2;" in out.read_text()
    row = _job(db, "outbox")
    assert row is not None and row.last_status == "ok" and row.lease_owner is None
