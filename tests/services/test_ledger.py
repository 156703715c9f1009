"""The ledger as an analytics table: from the database (SQLite and PostgreSQL) and from orders files."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from ravingfans.db import Database
from ravingfans.db.models import Customer, Order, OrderLine
from ravingfans.errors import ValidationFailed
from ravingfans.services.ledger import FileColumns, load_transactions, read_transactions_file

T0 = datetime(2025, 3, 1, 18, 30, tzinfo=UTC)


def _order(s, key: str, customer: Customer | None, amounts: list[str], *, cancelled: bool = False) -> Order:
    order = Order(source="pos", external_id=key, customer_id=customer.id if customer else None, placed_at=T0,
                  total=sum(map(Decimal, amounts), Decimal(0)), cancelled_at=T0 if cancelled else None)
    order.lines = [OrderLine(line_no=i + 1, kind="sale" if Decimal(a) > 0 else "refund", quantity=1,
                             unit_price=Decimal(a), amount=Decimal(a)) for i, a in enumerate(amounts)]
    s.add(order)
    return order


def test_orders_are_netted_and_cancelled_or_anonymous_left_out(db: Database) -> None:
    with db.session(write=True) as s:
        ann = Customer(first_name="Ann", created_at=T0, updated_at=T0)
        s.add(ann)
        s.flush()
        _order(s, "A", ann, ["19.99", "5.01", "-10.00"])
        _order(s, "B", ann, ["7.50"], cancelled=True)
        _order(s, "C", None, ["3.00"])
        s.flush()
        ann_id = ann.id
    frame = load_transactions(db.engine)
    assert frame.columns == ["customer_id", "order_id", "timestamp", "amount"]
    assert frame.height == 1
    row = frame.row(0, named=True)
    assert row["customer_id"] == ann_id
    assert row["amount"] == pytest.approx(15.00)
    assert row["timestamp"] == T0


def test_an_empty_ledger_is_an_empty_table(db: Database) -> None:
    frame = load_transactions(db.engine)
    assert frame.height == 0 and frame.schema["amount"] == pl.Float64


def test_csv_with_mapped_columns_and_a_date_column(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("buyer,date,total\n7,2025-01-02,10.5\n7,2025-02-03,4\n")
    lf = read_transactions_file(path, FileColumns(customer_id="buyer", amount="total"))
    frame = lf.collect()
    assert frame.columns == ["customer_id", "timestamp", "amount"]
    assert frame["amount"].to_list() == [10.5, 4.0]
    assert frame.schema["timestamp"] in (pl.Date, pl.Datetime)


def test_parquet_is_read_lazily(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame({"customer_id": [1, 2], "timestamp": [T0, T0], "amount": [1.0, 2.0]}).write_parquet(path)
    assert read_transactions_file(path).collect().height == 2


def test_missing_column_is_named_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer,timestamp,amount\n1,2025-01-02,3\n")
    with pytest.raises(ValidationFailed) as err:
        read_transactions_file(path)
    assert "no column 'customer_id'" in str(err.value) and "customer,timestamp,amount".replace(",", ", ") in str(err.value)
    assert "--customer-id-col" in str(err.value)


@pytest.mark.parametrize(("body", "needle"), [
    ("customer_id,timestamp,amount\n1,2025-01-02,3\n2,2025-01-03,abc\n", "line 3: amount 'abc'"),
    ("customer_id,timestamp,amount\n1,2025-01-02,3\n2,yesterday,4\n", "line 3: timestamp 'yesterday'"),
])
def test_first_bad_value_is_named_by_line(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(body)
    with pytest.raises(ValidationFailed, match=needle):
        read_transactions_file(path)


def test_unknown_file_type_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="There is no file"):
        read_transactions_file(tmp_path / "nope.csv")
    odd = tmp_path / "orders.json"
    odd.write_text("{}")
    with pytest.raises(ValidationFailed, match="unknown file type"):
        read_transactions_file(odd)
