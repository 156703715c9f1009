"""insert_for: one INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from ravingfans.db import Database
from ravingfans.db.models import Employee
from ravingfans.db.upsert import insert_for

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def test_a_row_whose_key_is_stored_is_skipped_and_the_others_written(db: Database) -> None:
    def row(external_id: str, name: str) -> dict[str, object]:
        return {"name": name, "source": "till", "external_id": external_id, "active": True, "created_at": T0}

    with db.session(write=True) as s:
        first = s.execute(insert_for(s, Employee).on_conflict_do_nothing(index_elements=["source", "external_id"])
                          .returning(Employee.external_id), [row("E1", "Ann")]).scalars().all()
        again = s.execute(insert_for(s, Employee.__table__).values([row("E1", "Not Ann"), row("E2", "Bo")])
                          .on_conflict_do_nothing(index_elements=["source", "external_id"])
                          .returning(Employee.__table__.c.external_id)).scalars().all()
    assert (first, again) == (["E1"], ["E2"])
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Employee)) == 2
        assert s.scalars(select(Employee.name).order_by(Employee.external_id)).all() == ["Ann", "Bo"]
