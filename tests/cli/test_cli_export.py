"""`ravingfans export KIND --format ... [--out ...]`, run in-process through cli.main."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from ravingfans.db import Database
from ravingfans.db.models import Customer, Interaction, Order, OrderLine

AT = datetime(2024, 7, 1, 8, 0, tzinfo=UTC)



@pytest.fixture
def shop(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """One customer with one two-line order and one interaction; the CLI points at this database."""
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    monkeypatch.setenv("RAVINGFANS_TIME_ZONE", "America/New_York")
    with db.session(write=True) as s:
        customer = Customer(first_name="+Pat", email="pat@example.com", created_at=AT, updated_at=AT)
        s.add(customer)
        s.flush()
        order = Order(source="web", external_id="W1", customer_id=customer.id, placed_at=AT,
                      total=Decimal("30.00"))
        order.lines = [
            OrderLine(line_no=1, sku="A", quantity=3, unit_price=Decimal("10.01"), discount=Decimal("0.03"),
                      amount=Decimal("30.00")),
            OrderLine(line_no=2, kind="refund", quantity=0, unit_price=Decimal(0), amount=Decimal("-0.10")),
        ]
        s.add(order)
        s.add(Interaction(customer_id=customer.id, occurred_at=AT, channel="email", kind="question", rating=1,
                          note="=1+1", created_at=AT))
        return customer.id


def test_default_out_is_kind_dot_format_in_cwd(run_cli: Callable[[list[str]], int], shop: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["export", "orders"]) == 0
    assert "Exported 2 order lines as csv to orders.csv" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO((Path.cwd() / "orders.csv").read_text("utf-8"), newline="")))
    assert [(r["unit_price"], r["discount"], r["amount"]) for r in rows] == [("10.01", "0.03", "30.00"),
                                                                            ("0.00", "0.00", "-0.10")]
    assert rows[0]["ordered_at"] == "2024-07-01T04:00:00-04:00"  # RAVINGFANS_TIME_ZONE
    assert rows[0]["customer_name"] == "'+Pat"


def test_stdout_csv(run_cli: Callable[[list[str]], int], shop: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["export", "interactions", "--out", "-"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out, newline="")))
    assert rows == [{"occurred_at": "2024-07-01T04:00:00-04:00", "customer_id": str(shop), "customer_name": "'+Pat",
                     "employee": "", "channel": "email", "kind": "question", "rating": "magic", "note": "'=1+1"}]
    assert "Exported 1 interaction as csv to standard output." in captured.err


def test_parquet_and_xlsx_to_a_path(run_cli: Callable[[list[str]], int], shop: int, tmp_path: Path) -> None:
    assert run_cli(["export", "customers", "--format", "parquet", "--out", str(tmp_path / "c.parquet")]) == 0
    (row,) = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert row["first_name"] == "+Pat" and row["customer_id"] == shop
    assert run_cli(["export", "orders", "-f", "xlsx", "-o", str(tmp_path / "o.xlsx")]) == 0
    sheet = openpyxl.load_workbook(tmp_path / "o.xlsx")["orders"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert [Decimal(str(r[header.index("amount")])).quantize(Decimal("0.01")) for r in rows[1:]] == \
        [Decimal("30.00"), Decimal("-0.10")]
    assert rows[1][header.index("customer_name")] == "'+Pat"


def test_errors_are_messages(run_cli: Callable[[list[str]], int], shop: int, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli(["export", "orders", "--format", "parquet", "--out", "-"]) == 2
    assert "Only CSV" in capsys.readouterr().err
    assert run_cli(["export", "orders", "--out", str(tmp_path / "missing" / "o.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    for argv in (["export", "products"], ["export", "orders", "--format", "json"]):
        assert run_cli(argv) != 0  # a usage error (cli.main decides the code)
        assert "is not one of" in capsys.readouterr().err
    assert list(Path.cwd().iterdir()) == []
