"""Fixtures: a fresh database per test, on SQLite or on the PostgreSQL server CI points us at.

Set RAVINGFANS_DATABASE_URL to a postgresql URL to run the suite on PostgreSQL: each test worker
gets its own new database on that server, emptied before every test; the named database itself
is never touched. Otherwise every test gets its own SQLite file. Tests never see the developer's settings:
RAVINGFANS_* variables are cleared and each test runs in its own empty directory.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ravingfans.config import Settings
from ravingfans.db import Database, make_engine, open_database
from ravingfans.db.migrate import head_revision, upgrade

SERVER_URL = os.environ.get("RAVINGFANS_DATABASE_URL", "")
ON_POSTGRES = SERVER_URL.startswith("postgres")


def _admin_url() -> str:
    return make_url(SERVER_URL).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _pg_admin():
    return create_engine(_admin_url(), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    """A migrated database: a file to copy per test on SQLite; this worker's own database on PostgreSQL."""
    if ON_POSTGRES:
        name = f"rf_w_{worker_id}_{uuid.uuid4().hex[:8]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        yield str(path)


@pytest.fixture
def database_url(_template: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated, empty database for this test alone.

    SQLite: a copy of the migrated template file. PostgreSQL: this worker's database with every
    table emptied and every id sequence restarted (CREATE DATABASE costs over a second a test).
    """
    if ON_POSTGRES:
        engine = create_engine(_template)
        with engine.begin() as conn:
            # DELETE + setval beats TRUNCATE (which makes new files per table) on small tables.
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # skip FK triggers
            tables = [r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
            for (seq,) in conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")):
                conn.execute(text("SELECT setval(:s, 1, false)"), {"s": seq})
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head_revision()})
        engine.dispose()
        yield _template
    else:
        path = tmp_path / "test.db"
        shutil.copyfile(_template, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A URL of a database with no tables at all (to test `init` and the schema check)."""
    if ON_POSTGRES:
        name = f"rf_e_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        yield f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """An open Database on this test's fresh database."""
    database = open_database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for this test, pointing at its fresh database."""
    return Settings(database_url=database_url, _env_file=None)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer settings leak in; each test runs in its own empty directory."""
    for name in list(os.environ):
        if name.startswith("RAVINGFANS_"):
            monkeypatch.delenv(name)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)


@pytest.fixture
def run_cli() -> Callable[[list[str]], int]:
    """Run the `ravingfans` command in this process; returns its exit code (main() always exits)."""
    from ravingfans.cli import main

    def run(argv: list[str]) -> int:
        try:
            main(argv)
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    return run
