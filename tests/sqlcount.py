"""What a block reads: the SQL statements it runs (pages and services held to a fixed number, no N+1), the
ORM objects it builds (lists that should read bare columns) and the statements our code builds on the way
(pages whose reads are built once)."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Select, event

from ravingfans.db import Database


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


@contextmanager
def objects_loaded(into: list[object], *classes: type) -> Iterator[None]:
    """Collect every object of these mapped classes that the ORM builds from a row inside the block."""
    def seen(target: object, _context: object) -> None:
        into.append(target)

    for cls in classes:
        event.listen(cls, "load", seen)
    try:
        yield
    finally:
        for cls in classes:
            event.remove(cls, "load", seen)


@contextmanager
def selects_built() -> Iterator[list[str]]:
    """The functions of ours (as 'module function') that build a select inside the block."""
    built: list[str] = []
    original = Select.__init__

    def counting(self: Select[Any], *args: Any, **kwargs: Any) -> None:
        caller = traceback.extract_stack(limit=3)[0]  # [who called select(), select(), this]
        if "/ravingfans/" in caller.filename:
            built.append(f"{caller.filename.rsplit('/ravingfans/', 1)[1]} {caller.name}")
        original(self, *args, **kwargs)

    Select.__init__ = counting  # type: ignore[method-assign]
    try:
        yield built
    finally:
        Select.__init__ = original  # type: ignore[method-assign]
