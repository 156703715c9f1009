"""`ravingfans outbox send|list|status` in-process, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mail"))  # the SMTP test server lives with the mail tests
from smtp_sink import SmtpServer, free_port, running_smtp  # noqa: E402

from ravingfans.config import Settings  # noqa: E402
from ravingfans.db import Database  # noqa: E402
from ravingfans.db.models import Customer, OutboxMessage  # noqa: E402
from ravingfans.mail import enqueue  # noqa: E402

Run = Callable[[list[str]], int]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server for this test."""
    with running_smtp() as server:
        yield server


@pytest.fixture
def queued(db: Database, database_url: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Three service messages queued, and the CLI pointed at the database and the SMTP server."""
    for name, value in {"DATABASE_URL": database_url, "SMTP_HOST": smtp.host, "SMTP_PORT": str(smtp.port),
                        "SMTP_TIMEOUT_SECONDS": "3", "MAIL_FROM": "hello@shoe.example"}.items():
        monkeypatch.setenv(f"RAVINGFANS_{name}", value)
    settings = Settings(database_url=database_url, mail_from="hello@shoe.example", _env_file=None)
    ids = []
    with db.session(write=True) as s:
        for n in range(3):
            customer = Customer(first_name=f"C{n}", email=f"c{n}@example.com", created_at=T0, updated_at=T0)
            s.add(customer)
            s.flush()
            ids.append(enqueue(s, key=f"receipt:{n}", customer_id=customer.id, to=customer.email, template="message",
                               context={"subject": f"Receipt {n}", "body": "Thanks"}, language=None,
                               purpose="service", settings=settings).outbox_id)
    return ids


def test_send_then_status_and_list(run_cli: Run, queued: list[int], smtp: SmtpServer, db: Database,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["outbox", "send", "--limit", "2"]) == 0
    assert "Sent 2;" in capsys.readouterr().err
    assert len(smtp.sink.messages) == 2
    assert run_cli(["outbox", "status"]) == 0
    out = capsys.readouterr().out
    assert "pending\t1" in out and "sent\t2" in out
    assert run_cli(["outbox", "send"]) == 0
    assert "Sent 1;" in capsys.readouterr().err
    assert run_cli(["outbox", "list", "--status", "sent", "--limit", "10"]) == 0
    out = capsys.readouterr().out
    assert all(f"Receipt {n}" in out for n in range(3)) and "c0@example.com" in out
    with db.session() as s:
        assert set(s.scalars(select(OutboxMessage.status))) == {"sent"}


def test_list_by_customer(run_cli: Run, queued: list[int], db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    with db.session() as s:
        customer_id = s.scalar(select(OutboxMessage.customer_id).where(OutboxMessage.id == queued[1]))
    assert run_cli(["outbox", "list", "--customer", str(customer_id)]) == 0
    out = capsys.readouterr().out
    assert "Receipt 1" in out and "Receipt 0" not in out


def test_server_down_exits_1_and_keeps_the_queue(run_cli: Run, queued: list[int], db: Database,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RAVINGFANS_SMTP_PORT", str(free_port()))
    assert run_cli(["outbox", "send"]) == 1
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "stay queued" in err and "Traceback" not in err
    with db.session() as s:
        assert set(s.scalars(select(OutboxMessage.status))) == {"pending"}


def test_bad_status_is_named(run_cli: Run, queued: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["outbox", "list", "--status", "lost"]) == 2
    assert "--status" in capsys.readouterr().err


def test_empty_outbox(run_cli: Run, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    assert run_cli(["outbox", "status"]) == 0 and "empty" in capsys.readouterr().err
    assert run_cli(["outbox", "send"]) == 0 and "Sent 0;" in capsys.readouterr().err
