"""`ravingfans customers duplicates` and `customers merge`, run in-process through cli.main."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ravingfans.db import Database
from ravingfans.db.models import Customer, CustomerIdentity, Note, Order, OrderLine

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)



@pytest.fixture
def seeded(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, int]:
    """Ann twice (same e-mail), Carl twice (same phone), Zed alone; the CLI points at this database."""
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    with db.session(write=True) as s:
        people = [
            Customer(first_name="Ann", email="ann@example.com", source="shopify", external_id="S1"),
            Customer(first_name="Ann", last_name="Lee", email="ann@example.com", source="pos", external_id="P1"),
            Customer(first_name="=Carl", phone="+14155550999"),
            Customer(first_name="Carl", last_name="Diaz", phone="+14155550999"),
            Customer(first_name="Zed", email="zed@example.com", phone="+14155550111"),
        ]
        for person in people:
            person.created_at = person.updated_at = NOW
        s.add_all(people)
        s.flush()
        s.add(CustomerIdentity(customer_id=people[1].id, source="pos", external_id="P1"))
        for n in range(2):
            order = Order(source="pos", external_id=f"O{n}", customer_id=people[1].id, placed_at=NOW,
                          total=Decimal("5.00"))
            order.lines = [OrderLine(line_no=1, quantity=1, unit_price=Decimal("5.00"), amount=Decimal("5.00"))]
            s.add(order)
        s.add(Note(customer_id=people[1].id, body="likes tea", created_at=NOW))
        return people[0].id, people[1].id, people[2].id


def test_duplicates_table_lists_pairs_with_reasons(run_cli: Callable[[list[str]], int], seeded: tuple[int, int, int],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["customers", "duplicates"]) == 0
    out = capsys.readouterr()
    assert "same e-mail" in out.out and "same phone" in out.out
    assert "Ann Lee" in out.out and "Carl Diaz" in out.out
    assert "Zed" not in out.out
    assert "2 pair(s)" in out.err


def test_duplicates_csv(run_cli: Callable[[list[str]], int], seeded: tuple[int, int, int], capsys: pytest.CaptureFixture[str]) -> None:
    ann, ann_lee, carl = seeded
    assert run_cli(["customers", "duplicates", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["keep_id"], r["merge_id"], r["reason"]) for r in rows] == [
        (str(ann), str(ann_lee), "same e-mail"), (str(carl), str(carl + 1), "same phone")]
    assert rows[0]["email"] == "ann@example.com"
    assert rows[1]["keep_name"] == "'=Carl"  # names are neutralised for spreadsheets


def test_duplicates_none_found(run_cli: Callable[[list[str]], int], db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    assert run_cli(["customers", "duplicates"]) == 0
    assert "No duplicate candidates" in capsys.readouterr().err


def test_merge_with_yes_moves_everything_and_prints_it(run_cli: Callable[[list[str]], int], db: Database, seeded: tuple[int, int, int],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    ann, ann_lee, _ = seeded
    assert run_cli(["customers", "merge", str(ann), str(ann_lee), "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"Merged customer #{ann_lee} (Ann Lee) into #{ann} (Ann)." in out
    assert "2 orders" in out and "1 note" in out and "1 source identity" in out
    assert "last_name" in out
    with db.session() as s:
        assert s.get(Customer, ann_lee) is None
        assert s.scalar(select(func.count()).select_from(Order).where(Order.customer_id == ann)) == 2
        assert s.scalar(select(CustomerIdentity.customer_id).where(CustomerIdentity.external_id == "P1")) == ann


@pytest.mark.parametrize("answer", ["n\n", "\n", ""])  # no, the default (no), end of input
def test_merge_asks_first_and_declining_changes_nothing(run_cli: Callable[[list[str]], int], db: Database, seeded: tuple[int, int, int],
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], answer: str) -> None:
    ann, ann_lee, _ = seeded
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    assert run_cli(["customers", "merge", str(ann), str(ann_lee)]) != 0
    captured = capsys.readouterr()
    assert "Would merge customer" in captured.out and "2 orders" in captured.out
    assert "Nothing merged" in captured.err
    with db.session() as s:
        assert s.get(Customer, ann_lee) is not None


def test_merge_asks_first_and_yes_merges(run_cli: Callable[[list[str]], int], db: Database, seeded: tuple[int, int, int],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ann, ann_lee, _ = seeded
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert run_cli(["customers", "merge", str(ann), str(ann_lee)]) == 0
    with db.session() as s:
        assert s.get(Customer, ann_lee) is None


def test_merge_errors_are_messages_with_exit_codes(run_cli: Callable[[list[str]], int], db: Database, seeded: tuple[int, int, int],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ann, ann_lee, _ = seeded
    assert run_cli(["customers", "merge", str(ann), str(ann), "--yes"]) == 2
    assert "itself" in capsys.readouterr().err
    assert run_cli(["customers", "merge", str(ann), "424242", "--yes"]) == 4
    assert "#424242 not found" in capsys.readouterr().err
    assert run_cli(["customers", "merge", "424242", str(ann_lee)]) == 4  # the preview refuses too
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 5
