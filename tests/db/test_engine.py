"""The engine's set-up: how SQLite transactions begin and what a locked database looks like to callers; when
PostgreSQL's pooled connections are checked before use."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, exc, text

from ravingfans.db import engine as engine_module
from ravingfans.db.engine import make_engine, write_transaction


@pytest.fixture
def pg_url(empty_database_url: str) -> str:
    """This test's own PostgreSQL database (the pool tests run only when the suite runs on PostgreSQL)."""
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's pool: run the suite with RAVINGFANS_DATABASE_URL=postgresql+psycopg://...")
    return empty_database_url


def test_a_write_that_cannot_get_the_lock_is_sqlalchemys_operational_error(tmp_path: Path) -> None:
    """BEGIN goes to the driver's connection; its errors still come out as SQLAlchemy's, which the web app answers
    with 503 and the CLI with "locked by another program" (a bare sqlite3 error would be a 500 and a crash report)."""
    path = tmp_path / "shop.db"
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _short_wait(dbapi_conn: Any, _record: Any) -> None:  # after the engine's own: 60 s would be a long test
        dbapi_conn.execute("PRAGMA busy_timeout=50")

    with write_transaction(engine) as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with pytest.raises(exc.OperationalError, match="locked") as caught:
            with write_transaction(engine) as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
        assert isinstance(caught.value.orig, sqlite3.OperationalError)
        assert caught.value.statement == "BEGIN IMMEDIATE"
    finally:
        other.rollback()
        other.close()
    with write_transaction(engine) as conn:  # and once the lock is free, the same engine writes
        conn.execute(text("INSERT INTO t VALUES (2)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [2]
    engine.dispose()


def _counting_pings(engine: Any) -> list[int]:
    """Count the pings the engine sends (the dialect's own ping, wrapped)."""
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings.append(1)
        return ping(dbapi_conn)

    engine.dialect.do_ping = counted
    return pings


def _backend_pid(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    """End a server process from outside, as a server restart or a dropped network link would."""
    admin = make_engine(url)
    with admin.connect() as conn:
        # with a timeout, it returns once the process has gone (not as soon as it is signalled)
        assert conn.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar_one()
    admin.dispose()


def test_a_connection_back_in_use_at_once_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)  # "at once" even on a slow, busy machine
    engine = make_engine(pg_url)
    pings = _counting_pings(engine)
    first = _backend_pid(engine)  # a new connection: just opened, not pinged
    assert _backend_pid(engine) == first  # the same one, straight back: not pinged either
    assert pings == []
    engine.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_url)
    pings = _counting_pings(engine)
    dead = _backend_pid(engine)
    _terminate(pg_url, dead)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # as if it had sat idle for a while
    fresh = _backend_pid(engine)  # no error: the ping found it dead and the pool opened another
    assert fresh != dead and pings
    engine.dispose()


def test_a_connection_that_died_within_the_window_fails_once_then_the_pool_recovers(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)  # within the window however slow the machine
    engine = make_engine(pg_url)
    dead = _backend_pid(engine)
    _terminate(pg_url, dead)
    with pytest.raises(exc.OperationalError):  # the web app answers 503, the CLI "database unavailable"
        _backend_pid(engine)
    assert _backend_pid(engine) != dead
    engine.dispose()


def test_a_lost_connection_found_by_the_ping_retires_the_older_ones(pg_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_url)
    first, second = engine.connect(), engine.connect()  # two pooled connections, both then idle
    pids = [int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) for c in (first, second)]
    first.close()
    second.close()
    for pid in pids:  # a server restart ends both
        _terminate(pg_url, pid)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    assert _backend_pid(engine) not in pids  # the ping finds one dead and the pool retires both
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)  # no more pings: a dead one would now fail
    with engine.connect() as a, engine.connect() as b:
        assert {int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) for c in (a, b)}.isdisjoint(pids)
    engine.dispose()
