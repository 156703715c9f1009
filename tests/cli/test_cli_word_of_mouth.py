"""`ravingfans mention add|list` and `ravingfans advocates`, in-process against the test database."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from ravingfans.db import Database
from ravingfans.db.models import Customer, Employee, Mention, Order

Run = Callable[[list[str]], int]
T0 = datetime(2024, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def book(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Ann referred Bob (120.00 spent) and Cy (30.00); Dee referred Eve (500.00); the CLI points at this database."""
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    monkeypatch.setenv("RAVINGFANS_TIME_ZONE", "Asia/Tokyo")
    ids: dict[str, int] = {}
    with db.session(write=True) as s:
        s.add(Employee(name="Sam Seller", source="t", external_id="E1", created_at=T0))
        for name, referrer, spent in (("Ann", None, None), ("Dee", None, None), ("Bob", "Ann", "120.00"),
                                      ("Cy", "Ann", "30.00"), ("Eve", "Dee", "500.00")):
            row = Customer(first_name=name, last_name="Test", referred_by_id=ids.get(referrer or ""), created_at=T0,
                           updated_at=T0)
            s.add(row)
            s.flush()
            ids[name] = row.id
            if spent:
                s.add(Order(source="t", external_id=name, customer_id=row.id, placed_at=T0, total=Decimal(spent)))
        ids["sam"] = s.scalar(select(Employee.id))
    return ids


def test_mention_add_records_it_and_mention_list_shows_it(run_cli: Run, book: dict[str, int], db: Database,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["mention", "add", str(book["Ann"]), "--kind", "review", "--where", "Google",
                    "--url", "https://g.example/r/1", "--sentiment", "praise", "--note", "Five stars",
                    "--employee", str(book["sam"]), "--when", "2024-03-01"]) == 0
    assert "recorded for" in capsys.readouterr().out
    with db.session() as s:
        row = s.scalar(select(Mention))
        assert row is not None
        assert (row.customer_id, row.kind, row.where, row.url, row.sentiment, row.note, row.employee_id) == (
            book["Ann"], "review", "Google", "https://g.example/r/1", 1, "Five stars", book["sam"])
        assert row.occurred_at == datetime(2024, 2, 29, 15, 0, tzinfo=UTC)  # a day in the business zone (Tokyo)
    assert run_cli(["mention", "add", str(book["Bob"]), "--kind", "told-friend", "--where", "his brother"]) == 0
    capsys.readouterr()
    assert run_cli(["mention", "list"]) == 0
    header, *lines = capsys.readouterr().out.strip().splitlines()
    assert header.split("\t")[:3] == ["mention", "day", "customer"]
    assert len(lines) == 2 and lines[0].split("\t")[2] == f"#{book['Bob']}"  # newest first
    assert lines[1].split("\t")[1:] == ["2024-03-01", f"#{book['Ann']}", "Ann Test", "review", "praise", "Google",
                                        "https://g.example/r/1", "Five stars", "Sam Seller"]
    assert run_cli(["mention", "list", "--customer", str(book["Bob"])]) == 0
    only = capsys.readouterr().out.strip().splitlines()[1:]
    assert len(only) == 1 and "told_friend" in only[0]


@pytest.mark.parametrize(("argv", "message"), [
    (["--kind", "gossip"], "Kind: must be one of"),
    (["--kind", "review", "--url", "javascript:alert(1)"], "Web address: must start with http"),
    (["--kind", "review", "--sentiment", "meh"], "Sentiment: must be one of"),
    (["--kind", "review", "--employee", "999"], "no employee number 999"),
    (["--kind", "review", "--when", "2150-01-01"], "cannot be in the future"),
])
def test_mention_add_refuses_bad_input_and_records_nothing(run_cli: Run, book: dict[str, int], db: Database,
                                                           capsys: pytest.CaptureFixture[str], argv: list[str],
                                                           message: str) -> None:
    assert run_cli(["mention", "add", str(book["Ann"]), *argv]) == 2
    assert message in capsys.readouterr().err
    with db.session() as s:
        assert s.scalar(select(Mention.id)) is None


def test_mention_add_for_an_unknown_customer_is_not_found(run_cli: Run, book: dict[str, int],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["mention", "add", "4242", "--kind", "review"]) == 4
    assert "no customer number 4242" in capsys.readouterr().err


def test_advocates_table_and_csv(run_cli: Run, book: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["advocates"]) == 0
    table = capsys.readouterr().out
    assert table.index("Dee Test") < table.index("Ann Test")  # 500.00 brought beats 150.00
    assert "500.00" in table and "150.00" in table
    assert run_cli(["advocates", "--format", "csv", "--limit", "1"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:3] == ["rank", "customer_id", "name"]
    assert rows[1:] == [["1", str(book["Dee"]), "Dee Test", "", "1", "500.00", "", "0", "0"]]


def test_advocates_when_there_are_none(run_cli: Run, db: Database, database_url: str,
                                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    assert run_cli(["advocates"]) == 0
    assert "No advocates yet" in capsys.readouterr().err
    assert run_cli(["advocates", "--limit", "0"]) == 2  # refused by the option's range
