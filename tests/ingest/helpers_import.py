"""Shared helpers for the import tests: write files, run imports, count rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.errors import ImportReport
from ravingfans.ingest.importer import ImportOptions, import_file


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write a test file exactly as given (newline='' keeps our line endings)."""
    with path.open("w", encoding=encoding, newline="") as fh:
        fh.write(text)
    return path


def run_import(db: Database, settings: Settings, path: Path, kind: str, **options: object) -> ImportReport:
    """Import through the library API, as the CLI does."""
    return import_file(db.engine, settings, path, ImportOptions(kind=kind, **options))  # type: ignore[arg-type]


def count(db: Database, model: type) -> int:
    """Rows in a model's table."""
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)
