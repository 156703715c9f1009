"""Loading the demo: row for row into SQLite or PostgreSQL, and never into someone's real data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from ravingfans.db import make_engine, open_database
from ravingfans.db.models import Base, Customer, Order, OrderLine
from ravingfans.demo import DemoBusiness, generate
from ravingfans.demo.load import DemoAlreadyLoaded, NotADemoDatabase, inspect_target, load


@pytest.fixture(scope="module")
def tiny() -> DemoBusiness:
    return generate(seed=3, customers=150, years=1)


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def test_load_writes_every_row(database_url: str, tiny: DemoBusiness) -> None:
    engine = make_engine(database_url)
    try:
        assert inspect_target(engine).kind == "empty"
        written = load(tiny, engine)
        assert inspect_target(engine).kind == "demo"
    finally:
        engine.dispose()
    counts = _counts(database_url)
    assert written == tiny.counts()
    for table, n in tiny.counts().items():
        assert counts[table] == n, table

    db = open_database(database_url)
    try:
        with db.session() as s:
            cancelled = select(Order.id).where(Order.cancelled_at.is_not(None))
            revenue = s.scalar(select(func.sum(OrderLine.amount)).where(OrderLine.order_id.not_in(cancelled)))
            assert revenue == tiny.revenue()
            first = tiny.orders[0]
            order = s.scalars(select(Order).where(Order.external_id == first.key)).one()
            assert order.placed_at == first.placed_at and order.placed_at.tzinfo is not None
            assert order.total == first.total
            assert [ln.amount for ln in order.lines] == [ln.amount for ln in tiny.lines if ln.order_key == first.key]
            referred = next(c for c in tiny.customers if c.referred_by)
            row = s.scalars(select(Customer).where(Customer.external_id == referred.key)).one()
            assert row.referred_by is not None and row.referred_by.external_id == referred.referred_by
            assert row.sizes == referred.sizes and row.likes == referred.likes and row.tags == referred.tags
            assert {c.source for c in s.scalars(select(Customer))} == {"demo"}
        # ids continue after the demo's explicit ones (PostgreSQL sequences were moved on)
        with db.session(write=True) as s:
            s.add(Customer(first_name="Late", last_name="Comer", source="manual",
                           created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
    finally:
        db.dispose()


def test_earlier_demo_is_kept_unless_replaced(database_url: str, tiny: DemoBusiness) -> None:
    engine = make_engine(database_url)
    try:
        load(tiny, engine)
        with pytest.raises(DemoAlreadyLoaded, match="already holds a demo"):
            load(tiny, engine)
        other = generate(seed=4, customers=120, years=1)
        load(other, engine, replace=True)
    finally:
        engine.dispose()
    counts = _counts(database_url)
    for table, n in other.counts().items():
        assert counts[table] == n, table


def test_real_data_is_refused_and_left_alone(database_url: str, tiny: DemoBusiness) -> None:
    db = open_database(database_url)
    try:
        with db.session(write=True) as s:
            s.add(Customer(first_name="Real", last_name="Person", source="manual",
                           created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
    finally:
        db.dispose()
    engine = make_engine(database_url)
    try:
        state = inspect_target(engine)
        assert state.kind == "foreign" and state.foreign_rows == {"customers": 1}
        for replace in (False, True):
            with pytest.raises(NotADemoDatabase, match="1 customers that are not from the demo"):
                load(tiny, engine, replace=replace)
    finally:
        engine.dispose()
    counts = _counts(database_url)
    assert counts["customers"] == 1 and counts["orders"] == 0 and counts["employees"] == 0


def test_a_database_of_another_application_is_refused(empty_database_url: str, tiny: DemoBusiness) -> None:
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)"))
        state = inspect_target(engine)
        assert state.kind == "foreign" and state.foreign_tables == ["invoices"]
        with pytest.raises(NotADemoDatabase, match="not a ravingfans database"):
            load(tiny, engine)
        with engine.connect() as conn:
            tables = set(conn.dialect.get_table_names(conn))
        assert tables == {"invoices"}  # no migration ran
    finally:
        engine.dispose()


def test_load_into_an_empty_database_runs_the_migrations(empty_database_url: str, tiny: DemoBusiness) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert inspect_target(engine).kind == "empty"
        load(tiny, engine)
    finally:
        engine.dispose()
    db = open_database(empty_database_url)  # refuses unless the schema is current
    db.dispose()
    assert _counts(empty_database_url)["orders"] == len(tiny.orders)
