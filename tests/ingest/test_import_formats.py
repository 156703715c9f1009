"""Encodings, delimiters and XLSX workbooks are read the way a person would read them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from helpers_import import count, run_import, write
from sqlalchemy import select

from ravingfans.db.models import Customer, Order
from ravingfans.errors import ImportFailed

TEXT = "customer_id;first_name;last_name;email\nC1;Zoë;Müller;zoe@example.com\nC2;José;Peña;jose@example.com\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_encodings_and_delimiters(db, settings, tmp_path: Path, encoding: str, delimiter: str) -> None:
    path = write(tmp_path / "c.csv", TEXT.replace(";", delimiter), encoding=encoding)
    assert run_import(db, settings, path, "customers").created == 2
    with db.session() as s:
        names = s.execute(select(Customer.first_name, Customer.last_name).order_by(Customer.id)).all()
    assert [tuple(n) for n in names] == [("Zoë", "Müller"), ("José", "Peña")]


def test_semicolon_files_read_decimal_commas(db, settings, tmp_path: Path) -> None:
    text = "order_id;ordered_at;quantity;unit_price\nO1;05.01.2025 10:30;1;19,99\n"
    run_import(db, settings, write(tmp_path / "o.csv", text), "orders", date_format="%d.%m.%Y %H:%M")
    with db.session() as s:
        order = s.scalars(select(Order)).one()
    assert order.total == Decimal("19.99") and order.placed_at.isoformat() == "2025-01-05T10:30:00+00:00"


def test_quoted_newlines_in_notes(db, settings, tmp_path: Path) -> None:
    text = 'customer_id,notes\nC1,"likes wide fit\nasks for Maria"\nC2,plain\n'
    assert run_import(db, settings, write(tmp_path / "c.csv", text), "customers").created == 2


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


ORDER_ROWS = [["order_id", "ordered_at", "quantity", "unit_price"],
              ["O1", datetime(2025, 1, 5, 10, 0), 2, 19.99],
              ["O2", "2025-01-06 11:00", 1, 5]]


def test_xlsx_with_typed_cells(db, settings, tmp_path: Path) -> None:
    path = _workbook(tmp_path / "o.xlsx", {"Orders": ORDER_ROWS})
    assert run_import(db, settings, path, "orders").created == 2
    with db.session() as s:
        totals = s.execute(select(Order.external_id, Order.total).order_by(Order.external_id)).all()
    assert [tuple(t) for t in totals] == [("O1", Decimal("39.98")), ("O2", Decimal("5.00"))]


def test_xlsx_with_several_sheets_needs_a_choice(db, settings, tmp_path: Path) -> None:
    path = _workbook(tmp_path / "o.xlsx", {"Notes": [["hello"]], "Orders": ORDER_ROWS})
    with pytest.raises(ImportFailed) as err:
        run_import(db, settings, path, "orders")
    assert "has 2 sheets (Notes, Orders)" in str(err.value) and "--sheet" in str(err.value)
    assert count(db, Order) == 0
    assert run_import(db, settings, path, "orders", sheet="Orders").created == 2
    with pytest.raises(ImportFailed, match="no sheet 'Sales'"):
        run_import(db, settings, path, "orders", sheet="Sales")


def test_corrupt_xlsx(db, settings, tmp_path: Path) -> None:
    path = tmp_path / "o.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ImportFailed, match="cannot be read as a workbook"):
        run_import(db, settings, path, "orders")
