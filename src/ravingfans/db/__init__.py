"""Storage: engine/session factories, models, migrations."""

from ravingfans.db.engine import Database, make_engine, open_database, write_transaction

__all__ = ["Database", "make_engine", "open_database", "write_transaction"]
