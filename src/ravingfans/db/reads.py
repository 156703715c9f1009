"""Plain column reads through a session's connection, for the pages read at every counter.

``Session.execute`` sends every statement through the ORM's execution layer (its compile state, loading
options and result set-up) even when the statement selects only columns and the rows come back as plain
tuples. For the small reads a page makes by the dozen that layer is half the cost of the statement: 79-87 µs
against 36-44 µs for a profile-style read on SQLite (``bench/statement_cost.py``, bench/RESULTS.md, issue #4).
:func:`read_rows` runs such a read on the session's own connection, in its transaction, and gives the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, Executable
from sqlalchemy.orm import Session

__all__ = ["read_rows"]


def read_rows(session: Session, statement: Executable, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
    """The rows of a read of plain columns (no ORM entities), in ``session``'s transaction.

    Changes pending in the session are flushed first, as ``session.execute`` would, so the read sees them.
    """
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection().execute(statement, params)
