"""Exactly-once as a deduplicating mailbox sees it: `ravingfans outbox send` SIGKILLed at the worst moments.

The sender is a real child process talking to a real aiosmtpd server. Two crashes:

- after the server accepted a message and before the sender committed its mark: the test holds a lock on
  the outbox table (so the mark must wait), lets the server say 250, then kills the sender. After a rerun
  the message is on the wire twice with the same Message-ID and the same bytes: a receiver that drops
  repeated Message-IDs holds it once, and every row ends "sent";
- after the claim and before any byte of the message was sent (stalled at MAIL FROM): after a rerun each
  message was delivered exactly once, even on the raw wire.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers_mail import add_customer, queue
from smtp_sink import SmtpServer, Stall
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import OutboxMessage
from ravingfans.mail import message_id_for

pytestmark = pytest.mark.slow
LEASE = 4  # seconds; the rerun waits for it to run out


def _env(database_url: str, smtp: SmtpServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAVINGFANS_")}
    env.update(RAVINGFANS_DATABASE_URL=database_url, RAVINGFANS_SMTP_HOST=smtp.host,
               RAVINGFANS_SMTP_PORT=str(smtp.port), RAVINGFANS_SMTP_TIMEOUT_SECONDS="3",
               RAVINGFANS_MAIL_FROM="hello@shoe.example", RAVINGFANS_BUSINESS_ADDRESS="12 High Street")
    return env


def _sender(database_url: str, smtp: SmtpServer, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"send-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen([sys.executable, "-c", "from ravingfans.cli import main; main()", "outbox", "send",
                             "--lease-seconds", str(LEASE)], env=_env(database_url, smtp), stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path)


def _rerun(database_url: str, smtp: SmtpServer, tmp_path: Path) -> str:
    time.sleep(LEASE + 0.5)  # the killed sender's lease runs out
    done = subprocess.run([sys.executable, "-c", "from ravingfans.cli import main; main()", "outbox", "send",
                           "--lease-seconds", str(LEASE)], env=_env(database_url, smtp), capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stderr


@contextmanager
def _outbox_locked(database_url: str) -> Iterator[None]:
    """Hold a lock that makes any write to the outbox wait (readers go on)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database, isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(url.set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE mail_outbox IN EXCLUSIVE MODE"))  # blocks UPDATE, not SELECT
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def _queue_three(db: Database, database_url: str) -> list[str]:
    settings = Settings(database_url=database_url, mail_from="hello@shoe.example", business_address="12 High Street",
                        _env_file=None)
    keys = []
    for n in range(3):
        cid = add_customer(db, f"C{n}", f"c{n}@example.com")
        keys.append(f"survey:1:invite:{cid}")
        assert queue(db, settings, cid, f"c{n}@example.com", key=keys[-1]).status == "queued"
    return keys


def _statuses(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {k: v for k, v in s.execute(select(OutboxMessage.key, OutboxMessage.status))}


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


def test_kill_between_send_and_mark_resends_same_message_id(db: Database, database_url: str, smtp: SmtpServer,
                                                            tmp_path: Path) -> None:
    keys = _queue_three(db, database_url)
    stall = smtp.sink.stall_before_accept = Stall()
    process = _sender(database_url, smtp, tmp_path)
    try:
        assert stall.reached.wait(30), "the sender never sent a message"
        with _outbox_locked(database_url):
            stall.release()  # the server now says 250 to the first message...
            deadline = time.monotonic() + 10
            while not smtp.sink.messages and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.5)  # ...and the sender, holding it, waits for the lock to write its mark
            assert process.poll() is None
            _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    first_id = message_id_for(keys[0], "hello@shoe.example")
    assert smtp.sink.message_ids() == [first_id]  # accepted by the server...
    assert _statuses(db)[keys[0]] == "sending"  # ...and not marked: the crash came in between
    _rerun(database_url, smtp, tmp_path)
    wire = smtp.sink.message_ids()
    assert wire.count(first_id) == 2 and len(wire) == 4  # SMTP has no idempotency: one resend, on the wire
    copies = [m.content for m in smtp.sink.messages if m.message_id == first_id]
    assert copies[0] == copies[1]  # byte-identical resend
    mailbox = smtp.sink.deduped()
    assert sorted(mailbox) == sorted(message_id_for(k, "hello@shoe.example") for k in keys)  # each exactly once
    assert set(_statuses(db).values()) == {"sent"}


def test_kill_between_claim_and_send_delivers_exactly_once(db: Database, database_url: str, smtp: SmtpServer,
                                                           tmp_path: Path) -> None:
    keys = _queue_three(db, database_url)
    stall = smtp.sink.stall_at_mail = Stall()
    process = _sender(database_url, smtp, tmp_path)
    try:
        assert stall.reached.wait(30), "the sender never started a message"
        assert set(_statuses(db).values()) == {"sending"}  # the claim is committed before SMTP
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
        stall.release()
    assert smtp.sink.messages == []
    _rerun(database_url, smtp, tmp_path)
    wire = smtp.sink.message_ids()
    assert sorted(wire) == sorted(message_id_for(k, "hello@shoe.example") for k in keys)  # once each, even raw
    assert set(_statuses(db).values()) == {"sent"}
    with db.session() as s:
        assert [r.attempts for r in s.scalars(select(OutboxMessage))] == [2, 2, 2]  # the killed claim counted
