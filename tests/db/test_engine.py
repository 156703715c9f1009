"""The engine's SQLite set-up: how transactions begin, and what a locked database looks like to callers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, exc, text

from ravingfans.db.engine import make_engine, write_transaction


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
