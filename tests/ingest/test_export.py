"""Exports read back value for value: exact money, zoned ISO times, and formula text neutralised where it matters."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ravingfans.db import Database
from ravingfans.db.models import Consent, Customer, CustomerIdentity, Employee, Interaction, Order, OrderLine
from ravingfans.errors import ValidationFailed
from ravingfans.ingest import export as export_module
from ravingfans.ingest.export import (
    COLUMNS,
    FORMULA_PREFIXES,
    ExportColumn,
    export,
    neutralize,
    neutralize_array,
)

BERLIN = ZoneInfo("Europe/Berlin")
WINTER = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
SUMMER = datetime(2024, 7, 1, 22, 15, 5, 123456, tzinfo=UTC)
INJECTIONS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tpadded",
              "\rcarriage"]


def _read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _read_xlsx(path: Path | io.BytesIO) -> tuple[list[str], list[list[Any]], Any]:
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    return [str(h) for h in rows[0]], rows[1:], sheet


@pytest.fixture
def ledger(db: Database) -> dict[str, Any]:
    """Two customers (one with formula-like text), orders with sales, a return and a refund, and contacts."""
    with db.session(write=True) as s:
        eve = Employee(name="@Eve", external_id="e1", created_at=WINTER)
        s.add(eve)
        s.flush()
        anna = Customer(first_name=INJECTIONS[0], last_name="Berg", email="anna@example.com",
                        phone="+4915112345678", address_line1=INJECTIONS[1], city="Berlin", country="DE",
                        birthday=date(1990, 2, 28), language="de", email_consent=True,
                        tags=["vip", "runner"], likes=["green"], dislikes=[], sizes={"shoe": "38", "shirt": "M"},
                        personal_details={"dog": "Rex"}, notes=INJECTIONS[2], source="shopify", external_id="S1",
                        created_at=WINTER, updated_at=SUMMER)
        s.add(anna)
        s.flush()
        ben = Customer(first_name="Ben", email="ben@example.com", phone="-5", referred_by_id=anna.id,
                       source="pos", external_id="P2", created_at=WINTER, updated_at=WINTER)
        s.add(ben)
        s.flush()
        s.add_all([
            CustomerIdentity(customer_id=anna.id, source="shopify", external_id="S1"),
            CustomerIdentity(customer_id=anna.id, source="pos", external_id="P9"),
            CustomerIdentity(customer_id=ben.id, source="pos", external_id="P2"),
            Consent(customer_id=anna.id, purpose="marketing", channel="email", granted=True, at=WINTER, source="f"),
            Consent(customer_id=anna.id, purpose="marketing", channel="email", granted=False, at=SUMMER, source="f"),
            Consent(customer_id=anna.id, purpose="surveys", channel="email", granted=True, at=WINTER, source="f"),
        ])
        first = Order(source="shopify", external_id="#1001", customer_id=anna.id, employee_id=eve.id,
                      placed_at=WINTER, channel="web", location=INJECTIONS[3], financial_status="paid",
                      total=Decimal("12345678901234.56"))
        first.lines = [
            OrderLine(line_no=1, sku="=SKU", product_name="Trail shoe", quantity=2, unit_price=Decimal("59.99"),
                      discount=Decimal("0.01"), amount=Decimal("119.97")),
            OrderLine(line_no=2, kind="return", sku="SOCK", product_name="Socks", quantity=-1,
                      unit_price=Decimal("4.10"), discount=Decimal(0), amount=Decimal("-4.10")),
            OrderLine(line_no=3, kind="sale", sku="BIG", product_name="Yacht", quantity=1,
                      unit_price=Decimal("12345678901118.69"), discount=Decimal(0),
                      amount=Decimal("12345678901118.69")),
        ]
        second = Order(source="pos", external_id="T-7", customer_id=None, employee_id=None, placed_at=SUMMER,
                       cancelled_at=SUMMER, total=Decimal(0))
        s.add_all([first, second])
        s.add_all([
            Interaction(customer_id=anna.id, employee_id=eve.id, occurred_at=SUMMER, channel="store",
                        kind="complaint", rating=-1, note=INJECTIONS[4], created_at=SUMMER),
            Interaction(customer_id=ben.id, employee_id=None, occurred_at=WINTER, channel="phone",
                        kind="question", rating=None, note="All good", created_at=WINTER),
        ])
        s.flush()
        return {"anna": anna.id, "ben": ben.id}


def test_orders_csv_round_trip_exact_money_zoned_times_and_neutralised_text(db: Database, ledger: dict[str, Any],
                                                                            tmp_path: Path) -> None:
    out = tmp_path / "orders.csv"
    result = export(db.engine, "orders", "csv", out, zone=BERLIN)
    rows = _read_csv(out.read_bytes())
    assert result.rows == len(rows) == 4
    assert list(rows[0]) == [c.name for c in COLUMNS["orders"]]
    first, ret, big, empty = rows
    assert first["order_id"] == "#1001" and first["source"] == "shopify"
    assert first["ordered_at"] == "2024-01-15T10:30:00+01:00"
    assert first["customer_id"] == str(ledger["anna"])
    assert first["email"] == "anna@example.com"
    assert first["customer_name"] == "'" + INJECTIONS[0] + " Berg"
    assert first["employee"] == "'@Eve"
    assert first["location"] == "'" + INJECTIONS[3]
    assert first["sku"] == "'=SKU"
    assert (first["kind"], first["quantity"], first["unit_price"], first["discount"], first["amount"]) == \
        ("sale", "2", "59.99", "0.01", "119.97")
    assert (ret["kind"], ret["quantity"], ret["amount"]) == ("return", "-1", "-4.10")
    assert Decimal(big["amount"]) == Decimal("12345678901118.69")
    assert empty["order_id"] == "T-7"
    assert empty["ordered_at"] == "2024-07-02T00:15:05.123456+02:00"
    assert empty["cancelled_at"] == empty["ordered_at"]
    assert empty["sku"] == empty["amount"] == empty["customer_id"] == ""
    assert not any(v.startswith(FORMULA_PREFIXES) for row in rows for k, v in row.items()
                   if k not in ("quantity", "amount", "unit_price", "discount"))


def test_customers_csv_has_contacts_consent_lists_sizes_referrals_and_source_ids(
        db: Database, ledger: dict[str, Any]) -> None:
    stream = io.BytesIO()
    result = export(db.engine, "customers", "csv", stream, zone=BERLIN)
    anna, ben = _read_csv(stream.getvalue())
    assert result.rows == 2
    assert anna["customer_id"] == str(ledger["anna"])
    assert anna["first_name"] == "'" + INJECTIONS[0]
    assert anna["address_line1"] == "'" + INJECTIONS[1]
    assert anna["notes"] == "'" + INJECTIONS[2]
    assert anna["phone"] == "+4915112345678"  # a valid E.164 number is left as it is
    assert ben["phone"] == "'-5"  # anything else starting with '-' is neutralised
    assert anna["birthday"] == "1990-02-28"
    assert anna["email_consent"] == "yes"
    assert anna["consents"] == "marketing:email=withdrawn; surveys:email=granted"
    assert anna["tags"] == "vip; runner"
    assert anna["likes"] == "green" and anna["dislikes"] == ""
    assert anna["sizes"] == "shoe=38; shirt=M"
    assert anna["personal_details"] == '{"dog":"Rex"}'
    assert anna["source_ids"] == "pos:P9; shopify:S1"
    assert anna["created_at"] == "2024-01-15T10:30:00+01:00"
    assert ben["referred_by"] == str(ledger["anna"])
    assert ben["email_consent"] == "" and ben["source_ids"] == "pos:P2"


def test_interactions_csv(db: Database, ledger: dict[str, Any]) -> None:
    stream = io.BytesIO()
    export(db.engine, "interactions", "csv", stream, zone="UTC")
    call, complaint = _read_csv(stream.getvalue())
    assert call == {"occurred_at": "2024-01-15T09:30:00+00:00", "customer_id": str(ledger["ben"]),
                    "customer_name": "Ben", "employee": "", "channel": "phone", "kind": "question",
                    "rating": "", "note": "All good"}
    assert complaint["rating"] == "misery"
    assert complaint["employee"] == "'@Eve"
    assert complaint["note"] == "'" + INJECTIONS[4]


def test_parquet_keeps_exact_values_and_types(db: Database, ledger: dict[str, Any], tmp_path: Path) -> None:
    export(db.engine, "orders", "parquet", tmp_path / "o.parquet", zone=BERLIN)
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.schema.field("amount").type == pa.decimal128(18, 2)
    assert table.schema.field("ordered_at").type == pa.timestamp("us", tz="Europe/Berlin")
    rows = table.to_pylist()
    assert [r["amount"] for r in rows] == [Decimal("119.97"), Decimal("-4.10"), Decimal("12345678901118.69"), None]
    assert rows[0]["unit_price"] == Decimal("59.99") and rows[0]["discount"] == Decimal("0.01")
    assert rows[0]["ordered_at"] == WINTER
    assert rows[3]["ordered_at"] == SUMMER
    assert rows[0]["customer_name"] == INJECTIONS[0] + " Berg"
    assert rows[0]["location"] == INJECTIONS[3]
    assert rows[0]["employee"] == "@Eve"

    export(db.engine, "customers", "parquet", tmp_path / "c.parquet", zone=BERLIN)
    anna, ben = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert anna["first_name"] == INJECTIONS[0] and anna["notes"] == INJECTIONS[2]
    assert anna["birthday"] == date(1990, 2, 28)
    assert anna["email_consent"] is True and ben["email_consent"] is None
    assert ben["phone"] == "-5"

    export(db.engine, "interactions", "parquet", tmp_path / "i.parquet")
    notes = [r["note"] for r in pq.read_table(tmp_path / "i.parquet").to_pylist()]
    assert notes == ["All good", INJECTIONS[4]]


def test_xlsx_round_trip_neutralises_and_keeps_money(db: Database, ledger: dict[str, Any], tmp_path: Path) -> None:
    export(db.engine, "orders", "xlsx", tmp_path / "o.xlsx", zone=BERLIN)
    header, rows, sheet = _read_xlsx(tmp_path / "o.xlsx")
    assert sheet.title == "orders"
    assert header == [c.name for c in COLUMNS["orders"]]
    data = [dict(zip(header, row, strict=True)) for row in rows]
    assert len(data) == 4
    assert data[0]["customer_name"] == "'" + INJECTIONS[0] + " Berg"
    assert data[0]["location"] == "'" + INJECTIONS[3]
    assert data[0]["sku"] == "'=SKU"
    assert data[0]["ordered_at"] == "2024-01-15T10:30:00+01:00"
    amounts = [None if r["amount"] is None else Decimal(str(r["amount"])).quantize(Decimal("0.01")) for r in data]
    assert amounts == [Decimal("119.97"), Decimal("-4.10"), Decimal("12345678901118.69"), None]
    assert sheet.cell(row=2, column=header.index("amount") + 1).number_format == "0.00"
    # No cell is a formula: openpyxl would read one back as text starting with '='.
    assert not any(isinstance(v, str) and v.startswith(FORMULA_PREFIXES) for row in rows for v in row)

    export(db.engine, "customers", "xlsx", tmp_path / "c.xlsx", zone=BERLIN)
    header, rows, _ = _read_xlsx(tmp_path / "c.xlsx")
    anna = dict(zip(header, rows[0], strict=True))
    assert anna["first_name"] == "'" + INJECTIONS[0]
    assert anna["phone"] == "+4915112345678"
    assert anna["email_consent"] == "yes"


def test_xlsx_drops_control_characters_before_neutralising(db: Database, tmp_path: Path) -> None:
    with db.session(write=True) as s:
        s.add(Customer(first_name="\x01=1+1", notes="bell\x07 ok", created_at=WINTER, updated_at=WINTER))
    export(db.engine, "customers", "xlsx", tmp_path / "c.xlsx")
    header, rows, _ = _read_xlsx(tmp_path / "c.xlsx")
    row = dict(zip(header, rows[0], strict=True))
    assert row["first_name"] == "'=1+1"
    assert row["notes"] == "bell ok"


def test_xlsx_continues_on_a_new_sheet_when_one_is_full(db: Database, ledger: dict[str, Any], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "XLSX_MAX_ROWS", 3)  # header + 2 rows per sheet
    export(db.engine, "orders", "xlsx", tmp_path / "o.xlsx")
    book = openpyxl.load_workbook(tmp_path / "o.xlsx")
    assert book.sheetnames == ["orders", "orders_2"]
    skus = []
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == "order_id"
        skus += [r[rows[0].index("sku")] for r in rows[1:]]
    assert skus == ["'=SKU", "SOCK", "BIG", None]


@pytest.mark.parametrize("kind", ["customers", "orders", "interactions"])
def test_small_batches_give_the_same_rows_as_one_batch(db: Database, ledger: dict[str, Any], kind: str) -> None:
    with db.session(write=True) as s:
        for n in range(7):
            s.add(Customer(first_name=f"Extra {n}", created_at=WINTER, updated_at=WINTER))
    whole, pieces = io.BytesIO(), io.BytesIO()
    one = export(db.engine, kind, "csv", whole, batch_size=10_000)
    many = export(db.engine, kind, "csv", pieces, batch_size=1)
    assert one.rows == many.rows
    assert whole.getvalue() == pieces.getvalue()
    whole_pq, pieces_pq = io.BytesIO(), io.BytesIO()
    export(db.engine, kind, "parquet", whole_pq, batch_size=10_000)
    export(db.engine, kind, "parquet", pieces_pq, batch_size=2)
    assert pq.read_table(whole_pq).equals(pq.read_table(pieces_pq))


def test_empty_database_gives_header_only(db: Database, tmp_path: Path) -> None:
    for kind in ("customers", "orders", "interactions"):
        stream = io.BytesIO()
        assert export(db.engine, kind, "csv", stream).rows == 0
        assert stream.getvalue().decode().strip() == ",".join(f'"{c.name}"' for c in COLUMNS[kind])
        export(db.engine, kind, "parquet", tmp_path / f"{kind}.parquet")
        assert pq.read_table(tmp_path / f"{kind}.parquet").num_rows == 0
        export(db.engine, kind, "xlsx", tmp_path / f"{kind}.xlsx")
        header, rows, _ = _read_xlsx(tmp_path / f"{kind}.xlsx")
        assert rows == [] and header == [c.name for c in COLUMNS[kind]]


def test_default_path_is_kind_dot_format_in_the_working_directory(db: Database, ledger: dict[str, Any]) -> None:
    result = export(db.engine, "interactions", "parquet")
    assert result.target == "interactions.parquet"
    assert pq.read_table(Path.cwd() / "interactions.parquet").num_rows == 2
    assert [p.name for p in Path.cwd().iterdir()] == ["interactions.parquet"]  # no partial file left


def test_bad_requests_are_validation_errors(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="Only CSV"):
        export(db.engine, "orders", "parquet", "-")
    with pytest.raises(ValidationFailed, match="Unknown export"):
        export(db.engine, "products", "csv", io.BytesIO())
    with pytest.raises(ValidationFailed, match="Unknown format"):
        export(db.engine, "orders", "json", io.BytesIO())
    with pytest.raises(ValidationFailed, match="time zone"):
        export(db.engine, "orders", "csv", io.BytesIO(), zone="Mars/Olympus")
    with pytest.raises(ValidationFailed, match="does not exist"):
        export(db.engine, "orders", "csv", tmp_path / "nowhere" / "o.csv")
    with pytest.raises(ValidationFailed, match="directory"):
        export(db.engine, "orders", "csv", tmp_path)
    assert not (tmp_path / "nowhere").exists()


@given(st.text())
def test_neutralize_never_leaves_a_formula_prefix_and_loses_nothing(value: str) -> None:
    shown = neutralize(value)
    assert not shown.startswith(FORMULA_PREFIXES)
    if value.startswith(FORMULA_PREFIXES):
        assert shown == "'" + value
    else:
        assert shown == value
    assert neutralize(shown) == shown


@given(st.lists(st.text(), min_size=1, max_size=20))
def test_csv_writer_round_trips_any_text_neutralised(values: list[str]) -> None:
    stream = io.BytesIO()
    writer = export_module._CsvWriter(stream, [ExportColumn("note")], ZoneInfo("UTC"), "interactions")
    writer.write([(v,) for v in values])
    writer.close()
    back = [row["note"] for row in csv.DictReader(io.StringIO(stream.getvalue().decode("utf-8"), newline=""))]
    assert back == [neutralize(v) for v in values]


@given(st.lists(st.one_of(st.none(), st.text(), st.from_regex(r"\A\+[1-9][0-9]{1,14}\Z")), max_size=30))
def test_vectorised_neutralising_agrees_with_neutralize(values: list[str | None]) -> None:
    plain = neutralize_array(pa.array(values, type=pa.string())).to_pylist()
    assert plain == [None if v is None else neutralize(v) for v in values]
    phones = neutralize_array(pa.array(values, type=pa.string()), keep_e164=True).to_pylist()
    assert phones == [v if v is None or re.fullmatch(r"\+[1-9][0-9]{1,14}", v) else neutralize(v) for v in values]
