"""The INSERT construct of a session's own database, for ``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Any) -> Any:
    """An INSERT into ``table`` (a model or Table) that can skip rows whose unique key is stored already, or is
    being stored by another writer at the same moment (it then waits for that writer and skips the row)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(table)
