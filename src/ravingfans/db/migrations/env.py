"""Alembic environment: the engine comes from ravingfans (config.attributes), never from a file."""

from __future__ import annotations

from alembic import context

from ravingfans.db.models import Base
from ravingfans.errors import DatabaseError

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table and drops the old one; with foreign keys on, SQLite's implicit DELETE would
        # cascade to every child row (notes, moments, orders...). So, as SQLite's own procedure says, they are off
        # for the migration (the pragma works only outside a transaction: set on the raw connection before the
        # first statement) and checked before the commit.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise DatabaseError(f"The migration would leave {len(broken)} broken foreign key(s), e.g. {broken[0]}; "
                                    "nothing was changed.")
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
