"""Migration 0007 (erasure columns): rebuilding customers on SQLite must not cascade to the rows that point at it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from ravingfans.db import make_engine
from ravingfans.db.migrate import alembic_config, head_revision, upgrade

CUSTOMER = ("INSERT INTO customers (id, first_name, referred_by_id, source, created_at, updated_at, likes, dislikes, "
            "sizes, tags, personal_details, attributes) VALUES (:id, :name, :ref, 'manual', '2024-01-01', '2024-01-01', "
            "'[]', '[]', '{}', '[]', '{}', '{}')")


def _rows(engine) -> tuple[int, list[tuple[int | None]], list[tuple[int, int | None]]]:
    with engine.connect() as conn:
        return (conn.execute(text("SELECT COUNT(*) FROM notes")).scalar_one(),
                [tuple(r) for r in conn.execute(text("SELECT customer_id FROM orders"))],
                [tuple(r) for r in conn.execute(text("SELECT id, referred_by_id FROM customers ORDER BY id"))])


def test_upgrade_and_downgrade_keep_notes_orders_and_referrals(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    command.upgrade(alembic_config(engine), "0006")
    with engine.begin() as conn:
        conn.execute(text(CUSTOMER), {"id": 1, "name": "Ada", "ref": None})
        conn.execute(text(CUSTOMER), {"id": 2, "name": "Bob", "ref": 1})
        conn.execute(text("INSERT INTO notes (customer_id, author, body, created_at) "
                          "VALUES (1, 'Sam', 'hello', '2024-01-01')"))
        conn.execute(text("INSERT INTO orders (source, external_id, customer_id, placed_at, total) "
                          "VALUES ('till', 'O-1', 1, '2024-01-01', 100)"))
    before = _rows(engine)
    assert before == (1, [(1,)], [(1, None), (2, 1)])
    assert upgrade(engine) == ("0006", head_revision())
    assert {"erased_at", "erased_by"} <= {c["name"] for c in inspect(engine).get_columns("customers")}
    assert "erasure_suppressions" in inspect(engine).get_table_names()
    assert _rows(engine) == before
    command.downgrade(alembic_config(engine), "0006")
    assert "erased_at" not in {c["name"] for c in inspect(engine).get_columns("customers")}
    assert _rows(engine) == before
    with engine.connect() as conn:  # foreign keys are enforced again afterwards
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
