"""read_rows: the pages' column reads on the session's connection see what the session holds, as execute does."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from ravingfans.db import Database
from ravingfans.db.models import Customer, Note
from ravingfans.db.reads import read_rows

AT = datetime(2024, 5, 1, tzinfo=UTC)


def test_a_read_sees_what_the_session_has_not_flushed_yet(db: Database) -> None:
    with db.session(write=True) as s:
        ada = Customer(first_name="Ada", created_at=AT, updated_at=AT)
        s.add(ada)  # pending: not flushed
        s.add(Note(customer=ada, author="x", body="likes blue", created_at=AT))
        rows = read_rows(s, select(Customer.first_name, func.count(Note.id)).join(Note, Note.customer_id == Customer.id)
                         .group_by(Customer.first_name)).all()
        assert [tuple(r) for r in rows] == [("Ada", 1)]
        ada.first_name = "Augusta"  # dirty: flushed before the next read
        assert read_rows(s, select(Customer.first_name).where(Customer.id == ada.id)).scalar_one() == "Augusta"


def test_a_read_runs_in_the_sessions_transaction(db: Database) -> None:
    with db.session(write=True) as s:
        s.add(Customer(first_name="Grace", created_at=AT, updated_at=AT))
        s.flush()
        assert read_rows(s, select(func.count(Customer.id))).scalar_one() == 1  # its own write, not committed
        with db.session() as other:
            assert read_rows(other, select(func.count(Customer.id))).scalar_one() == 0  # not visible outside


def test_bound_parameters_are_passed(db: Database) -> None:
    with db.session(write=True) as s:
        s.add_all(Customer(first_name=name, created_at=AT, updated_at=AT) for name in ("Ada", "Bob", "Cy"))
        s.flush()
        stmt = select(Customer.first_name).where(Customer.first_name >= func.coalesce(None, "B")) \
            .order_by(Customer.first_name)
        assert read_rows(s, stmt).scalars().all() == ["Bob", "Cy"]
        from sqlalchemy import bindparam

        named = select(Customer.first_name).where(Customer.first_name == bindparam("name"))
        assert read_rows(s, named, {"name": "Cy"}).scalars().all() == ["Cy"]
