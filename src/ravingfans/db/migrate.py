"""Apply and check Alembic migrations from inside the package (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import SQLAlchemyError

from ravingfans.errors import DatabaseError, SchemaOutOfDate

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to ``engine``, reading scripts from the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration this version of ravingfans ships."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None when it was never initialised."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise DatabaseError(f"Cannot open the database: {exc.orig}",
                            hint="Check RAVINGFANS_DATABASE_URL (see `ravingfans config`).") from None


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory(str(MIGRATIONS)).get_revision(revision) is not None
    except CommandError:
        return False


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after)."""
    before = current_revision(engine)
    if before is not None and not _known(before):
        raise SchemaOutOfDate(
            f"The database is at revision {before}, which this version of ravingfans does not know: it was "
            "made by a newer version.", hint="Upgrade ravingfans (pip install -U ravingfans), or use a backup.")
    try:
        command.upgrade(alembic_config(engine), "head")
    except SQLAlchemyError as exc:
        raise DatabaseError(f"Migration failed: {exc}") from None
    return before, head_revision()


def check_current(engine: Engine) -> None:
    """Raise SchemaOutOfDate unless the database is at this version's newest migration."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaOutOfDate(
            f"The database at {engine.url.render_as_string(hide_password=True)} is not initialised.",
            hint="Run `ravingfans init` to create its tables.",
        )
    raise SchemaOutOfDate(
        f"The database schema is at revision {current}, this version of ravingfans needs {head}.",
        hint="Run `ravingfans init` to apply the missing migrations (back up the database first).",
    )
