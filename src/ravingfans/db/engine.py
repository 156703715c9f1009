"""Engine and session factories: nothing connects at import time.

SQLite gets WAL (readers never wait for the writer), foreign keys, a busy timeout, and explicit
BEGIN so that writers can ask for ``BEGIN IMMEDIATE`` and never fail half-way on a lock upgrade.
PostgreSQL's pooled connections are checked before use when they have sat idle (a server restart
or a dropped connection is then met with a fresh one, not an error page).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, InvalidatePoolError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from ravingfans.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 60_000
PING_AFTER_IDLE_S = 2.0
"""A pooled PostgreSQL connection back in use within this many seconds is not pinged (see _configure_postgresql)."""
_IDLE_SINCE = "ravingfans_idle_since"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (SQLite file or ``postgresql+psycopg://``) with our settings."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"RAVINGFANS_DATABASE_URL is not a database URL: {url!r}",
            hint="Use e.g. sqlite:///ravingfans.db or postgresql+psycopg://user@host/dbname",
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            # A pool as large as the 40 threads Starlette runs sync routes in (SQLite connections are cheap file
            # handles): with SQLAlchemy's default 5 + 10, 40 requests in flight queued for a connection until
            # they timed out, and the server stalled while idle (bench/RESULTS.md, #4 runs D and E).
            on_disk = parsed.database not in (None, "", ":memory:")
            pool = {"pool_size": 20, "max_overflow": 30} if on_disk else {}
            engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **{**pool, **kwargs})
            _configure_sqlite(engine)
        else:
            engine = create_engine(parsed, **kwargs)
            _configure_postgresql(engine)
    except NoSuchModuleError:
        raise ConfigError(f"Unsupported database in RAVINGFANS_DATABASE_URL: {parsed.drivername!r}",
                          hint="Supported: sqlite:///path.db and postgresql+psycopg://...") from None
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        # SQLite's own lower() folds ASCII only; search must find "Ölaf" from "öl" as PostgreSQL does.
        dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        statement = f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'DEFERRED')}"
        # On the driver's connection: every transaction begins here, and through SQLAlchemy's execution layer
        # (exec_driver_sql, which also reports it to statement listeners) a read session cost 185-193 µs rather
        # than 149-156 µs (bench/statement_cost.py, bench/RESULTS.md #4). SQLAlchemy still logs the BEGIN itself.
        try:
            conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
        except sqlite3.Error as err:
            # as exec_driver_sql would: a BEGIN IMMEDIATE that waited out the busy timeout is SQLAlchemy's
            # OperationalError, which the web app answers with 503 and the CLI with "locked by another program"
            raise DBAPIError.instance(statement, (), err, sqlite3.Error, dialect=conn.dialect) from err


def _configure_postgresql(engine: Engine) -> None:
    """Ping a pooled connection before handing it out only when it has been idle for PING_AFTER_IDLE_S or more.

    SQLAlchemy's ``pool_pre_ping`` pings on every check-out: a round trip before each session's first statement,
    two on every signed-in page (the sign-in check's session and the page's), where a profile sends 23 statements
    in all. A connection that served a request a moment ago is as good as its last answer, so it goes out
    unchecked (HikariCP skips its check within 500 ms of use for the same reason). A connection that fails the
    ping raises DisconnectionError, on which the pool opens a fresh one and tries again (if the server is down,
    that connect fails with SQLAlchemy's OperationalError: 503 pages, the CLI's message); when the failure is a
    lost connection, as after a server restart, InvalidatePoolError also retires every older pooled connection,
    as ``pool_pre_ping`` did. A connection used within the window that died since fails its request once.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()  # just opened: nothing to check at its first check-out

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_conn, None):  # the server went away: the others are gone too
                raise InvalidatePoolError(f"a pooled connection was lost: {err}") from err
            raise DisconnectionError(f"a pooled connection failed its check: {err}") from err


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: takes SQLite's write lock up front (waits, never half-fails)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


@dataclass
class Database:
    """An engine and its session factory; one per process (the web app, a CLI command, a test)."""

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        if write and self.dialect == "sqlite":
            bind = self.engine.execution_options(sqlite_begin="IMMEDIATE")
            session = Session(bind=bind, expire_on_commit=False)
        else:
            session = self.sessions()
        session.info["writer"] = write  # services that must see writes under way lock what they read (get_customer)
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(url: str, *, check_schema: bool = True) -> Database:
    """Connect to ``url``; unless told otherwise, refuse a database whose schema is not current."""
    engine = make_engine(url)
    db = Database(engine=engine, sessions=sessionmaker(bind=engine, expire_on_commit=False))
    if check_schema:
        from ravingfans.db.migrate import check_current

        check_current(engine)
    return db
