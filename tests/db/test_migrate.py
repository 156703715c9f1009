"""Migrations: applied by init, checked at start-up, models and migrations in step."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from ravingfans.db import make_engine, open_database
from ravingfans.db.migrate import check_current, head_revision, upgrade
from ravingfans.db.models import EXPRESSION_INDEXES, Base
from ravingfans.errors import SchemaOutOfDate


def _declared(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave out the expression indexes only migrations make (the models cannot declare them per database)."""
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def test_models_match_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": _declared}), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_the_customer_list_reads_its_name_order_from_the_index(db) -> None:
    """The list's ORDER BY is spelled as migration 0013's index, so a page is read in order, not sorted."""
    from ravingfans.db.models import Customer
    from ravingfans.services.customers import name_order

    sqlite = db.engine.dialect.name == "sqlite"
    first, then = name_order(sqlite)
    for direction in ("asc", "desc"):
        keys = [getattr(k, direction)() for k in (first, then, Customer.id)]
        stmt = select(Customer.id).where(Customer.erased_at.is_(None)).order_by(*keys).limit(50)
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        with db.engine.connect() as conn:
            if sqlite:
                plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                assert "ix_customers_name_order" in plan and "TEMP B-TREE" not in plan, plan
            else:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a few test rows: make the index the way
                conn.exec_driver_sql("SET LOCAL enable_sort = off")
                plan = " ".join(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + sql))
                assert "ix_customers_name_order" in plan and "Sort" not in plan, plan


def test_uninitialised_database_is_refused(empty_database_url: str) -> None:
    with pytest.raises(SchemaOutOfDate, match="not initialised"):
        open_database(empty_database_url)
    engine = make_engine(empty_database_url)
    assert upgrade(engine) == (None, head_revision())
    check_current(engine)
    engine.dispose()


def test_unknown_revision_is_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaOutOfDate, match="ffff"):
        check_current(engine)
    with pytest.raises(SchemaOutOfDate, match="newer version"):
        upgrade(engine)
    engine.dispose()


def test_sqlite_pragmas(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    engine.dispose()


def test_accounts_migration_upgrades_from_0002_and_back(empty_database_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from ravingfans.db.migrate import alembic_config

    engine = make_engine(empty_database_url)
    command.upgrade(alembic_config(engine), "0002")
    assert not {"users", "api_tokens"} & set(inspect(engine).get_table_names())
    assert upgrade(engine) == ("0002", head_revision())
    assert {"users", "api_tokens"} <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(engine), "0002")
    assert not {"users", "api_tokens"} & set(inspect(engine).get_table_names())
    engine.dispose()


def test_fans_list_migration_counts_the_runs_made_before_it(empty_database_url: str) -> None:
    import json

    from alembic import command

    from ravingfans.db.migrate import alembic_config

    engine = make_engine(empty_database_url)
    command.upgrade(alembic_config(engine), "0005")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (id, source, created_at, updated_at, likes, dislikes, sizes, tags, "
                          "personal_details, attributes) VALUES (1, 'manual', '2024-01-01', '2024-01-01', '[]', '[]', '{}', "
                          "'[]', '{}', '{}'), (2, 'manual', '2024-01-01', '2024-01-01', '[]', '[]', '{}', '[]', '{}', "
                          "'{}')"))
        conn.execute(text("INSERT INTO score_runs (id, created_at, observation_end, customers, model, params) "
                          "VALUES (7, '2024-01-02', '2024-01-01', 2, 'bgnbd', '{}')"))
        for customer, segment, clv in ((1, "Champions", 10.5), (2, "Champions", None)):
            conn.execute(text(
                "INSERT INTO customer_scores (run_id, customer_id, segment, \"R\", \"F\", \"M\", \"FM\", purchases, "
                "frequency, recency, \"T\", total_spend, monetary_value, first_purchase, last_purchase, "
                "days_since_last, clv) "
                "VALUES (7, :c, :s, 5, 5, 5, 5, 3, 2, 10, 20, 30, 10, '2023-01-01', '2023-12-01', 31, :clv)"),
                {"c": customer, "s": segment, "clv": clv})
    command.upgrade(alembic_config(engine), "0006")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT segments FROM score_runs WHERE id = 7")).scalar_one()
    engine.dispose()
    assert (json.loads(stored) if isinstance(stored, str) else stored) == {"Champions": [2, 10.5]}
