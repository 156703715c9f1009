"""`ravingfans customers erase ID`: shows what goes and what stays, asks unless --yes, then erases through the service."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ravingfans.db import Database
from ravingfans.db.models import Customer, ErasureSuppression, Note, Order, OrderLine

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RunCli = Callable[[list[str]], int]


@pytest.fixture
def ann(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """Ann with an order and a note; the CLI points at this database."""
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    with db.session(write=True) as s:
        person = Customer(first_name="Ann", last_name="Lee", email="ann@example.com", phone="+14155550999",
                          created_at=NOW, updated_at=NOW)
        s.add(person)
        s.flush()
        order = Order(source="pos", external_id="O1", customer_id=person.id, placed_at=NOW, total=Decimal("5.00"))
        order.lines = [OrderLine(line_no=1, quantity=1, unit_price=Decimal("5.00"), amount=Decimal("5.00"))]
        s.add_all([order, Note(customer_id=person.id, body="likes tea", created_at=NOW)])
        return person.id


def state(db: Database, customer_id: int) -> tuple[str | None, int, int, int]:
    """(e-mail, notes, orders, suppression markers) of the customer."""
    with db.session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        return (customer.email,
                int(s.scalar(select(func.count()).select_from(Note).where(Note.customer_id == customer_id)) or 0),
                int(s.scalar(select(func.count()).select_from(Order).where(Order.customer_id == customer_id)) or 0),
                int(s.scalar(select(func.count()).select_from(ErasureSuppression)) or 0))


def test_yes_erases_without_asking(run_cli: RunCli, db: Database, ann: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["customers", "erase", str(ann), "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"Customer #{ann} erased" in out and "1 note(s)" in out and "Kept: 1 order(s)" in out
    assert "Ann" not in out and "ann@example.com" not in out
    assert state(db, ann) == (None, 0, 1, 2)
    assert run_cli(["customer", str(ann)]) == 4  # their value is not shown: they are gone, not unscored
    assert f"Customer #{ann} was erased" in capsys.readouterr().err


@pytest.mark.parametrize("answer", ["n\n", "\n", ""])  # no, the default (no), end of input
def test_it_asks_first_and_declining_erases_nothing(run_cli: RunCli, db: Database, ann: int, answer: str,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    assert run_cli(["customers", "erase", str(ann)]) == 1
    captured = capsys.readouterr()
    assert f"Erase customer #{ann} (Ann Lee)" in captured.out and "1 note(s)" in captured.out
    assert "Nothing erased" in captured.err
    assert state(db, ann) == ("ann@example.com", 1, 1, 0)


def test_it_asks_first_and_yes_erases(run_cli: RunCli, db: Database, ann: int,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert run_cli(["customers", "erase", str(ann)]) == 0
    assert state(db, ann) == (None, 0, 1, 2)


def test_unknown_and_twice_are_messages_with_exit_codes(run_cli: RunCli, db: Database, ann: int,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["customers", "erase", "424242", "--yes"]) == 4
    assert "no customer number 424242" in capsys.readouterr().err
    assert run_cli(["customers", "erase", "424242"]) == 4  # the preview refuses too
    assert run_cli(["customers", "erase", str(ann), "--yes"]) == 0
    capsys.readouterr()
    assert run_cli(["customers", "erase", str(ann), "--yes"]) == 1
    assert "already erased" in capsys.readouterr().err
    assert run_cli(["customers", "erase", str(ann)]) == 1  # the preview refuses too
    assert "already erased" in capsys.readouterr().err
