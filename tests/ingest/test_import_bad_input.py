"""Bad input: every case ends in one clear message naming the line, column and fix; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_import import count, run_import, write

from ravingfans.db.models import Customer, Order
from ravingfans.errors import ImportFailed

HEAD = "order_id,ordered_at,email,quantity,unit_price\n"


def failing(db, settings, path: Path, kind: str = "orders", **opts: object) -> str:
    with pytest.raises(ImportFailed) as err:
        run_import(db, settings, path, kind, **opts)
    assert count(db, Order) == 0 and count(db, Customer) == 0  # all-or-nothing
    return str(err.value)


@pytest.mark.parametrize(("cell", "column", "expected"), [
    ("2025-02-30 10:00", "ordered_at", "is not a date and time"),
    ("yesterday", "ordered_at", "is not a date and time"),
    ("12,5x", "unit_price", "is not an amount of money"),
    ("9.999", "unit_price", "more than 2 decimal places"),
    ("0", "quantity", "whole number above 0"),
    ("-2", "quantity", "kind=return"),
    ("1.5", "quantity", "whole number above 0"),
    ("not-an-email", "email", "is not an e-mail address"),
])
def test_bad_cells_are_named_with_line_column_and_value(db, settings, tmp_path: Path, cell: str, column: str,
                                                        expected: str) -> None:
    good = {"order_id": "O1", "ordered_at": "2025-01-05 10:00", "email": "a@example.com", "quantity": "1",
            "unit_price": "10.00"}
    bad = dict(good, order_id="O2", **{column: cell})
    text = HEAD + ",".join(good.values()) + "\n" + ",".join(f'"{v}"' for v in bad.values()) + "\n"
    message = failing(db, settings, write(tmp_path / "o.csv", text))
    assert f"line 3, column '{column}' (value '{cell}'): " in message
    assert expected in message
    assert "nothing was imported" in message and "--skip-invalid" in message


def test_every_problem_is_reported_not_just_the_first(db, settings, tmp_path: Path) -> None:
    text = HEAD + "".join(f"O{i},2025-01-05,a@example.com,0,1\n" for i in range(30))
    message = failing(db, settings, write(tmp_path / "o.csv", text))
    assert "30 problem(s)" in message and "and 10 more" in message


def test_empty_file(db, settings, tmp_path: Path) -> None:
    message = failing(db, settings, write(tmp_path / "o.csv", ""))
    assert "o.csv is empty" in message and "header row" in message


def test_header_only(db, settings, tmp_path: Path) -> None:
    assert "has a header but no data rows" in failing(db, settings, write(tmp_path / "o.csv", HEAD))


def test_missing_required_column_suggests_a_mapping(db, settings, tmp_path: Path) -> None:
    text = "order_id,order_date,qty,unit_price\nO1,2025-01-05,1,10\n"
    message = failing(db, settings, write(tmp_path / "o.csv", text))
    assert "missing required column(s) 'ordered_at', 'quantity'" in message
    assert '--map "order_date=ordered_at"' in message and "order_date" in message


def test_mapping_reads_other_column_names(db, settings, tmp_path: Path) -> None:
    text = "Bon,Datum,Menge,Preis\nO1,2025-01-05,1,10\n"
    report = run_import(db, settings, write(tmp_path / "o.csv", text), "orders",
                        mapping=["Bon=order_id", "Datum=ordered_at", "Menge=quantity", "Preis=unit_price"])
    assert report.created == 1


def test_mapping_to_unknown_field_is_refused(db, settings, tmp_path: Path) -> None:
    message = failing(db, settings, write(tmp_path / "o.csv", HEAD + "O1,2025-01-05,,1,1\n"), mapping=["x=quantiy"])
    assert "'quantiy'" in message and "did you mean 'quantity'" in message


def test_unknown_columns_are_ignored_with_a_note(db, settings, tmp_path: Path) -> None:
    text = "order_id,ordered_at,quantity,unit_price,loyalty_points\nO1,2025-01-05,1,10,40\n"
    report = run_import(db, settings, write(tmp_path / "o.csv", text), "orders")
    assert report.created == 1 and any("loyalty_points" in w for w in report.warnings)


def test_shopify_file_imported_as_generic_gets_a_hint(db, settings, tmp_path: Path) -> None:
    text = "Name,Email,Created at,Lineitem quantity,Lineitem price\n#1,a@example.com,2025-01-05 10:00:00 +0000,1,5\n"
    assert "--format shopify" in failing(db, settings, write(tmp_path / "o.csv", text))


def test_duplicate_header_names(db, settings, tmp_path: Path) -> None:
    message = failing(db, settings, write(tmp_path / "o.csv", "order_id,order_id,ordered_at\n1,2,3\n"))
    assert "more than once" in message


def test_ragged_row_is_reported(db, settings, tmp_path: Path) -> None:
    text = HEAD + "O1,2025-01-05,a@example.com,1,10,EXTRA\n"
    assert "has 6 fields where the header has 5" in failing(db, settings, write(tmp_path / "o.csv", text))


def test_neither_utf8_nor_cp1252(db, settings, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_bytes(HEAD.encode() + b"O1,2025-01-05,a@example.com,1,\x81\x8d\n")
    message = failing(db, settings, path)
    assert "neither UTF-8 nor Windows-1252" in message and "CSV UTF-8" in message


def test_dry_run_reports_counts_and_writes_nothing(db, settings, tmp_path: Path) -> None:
    report = run_import(db, settings, write(tmp_path / "o.csv", HEAD + "O1,2025-01-05,a@example.com,1,10\n"),
                        "orders", dry_run=True)
    assert report.created == 1 and report.dry_run and "would be created" in report.summary()
    assert count(db, Order) == 0 and count(db, Customer) == 0


def test_dry_run_with_problems_fails(db, settings, tmp_path: Path) -> None:
    failing(db, settings, write(tmp_path / "o.csv", HEAD + "O1,2025-01-05,a@example.com,0,10\n"), dry_run=True)


def test_formula_looking_cells_are_stored_as_text_with_a_note(db, settings, tmp_path: Path) -> None:
    from sqlalchemy import select

    text = 'customer_id,first_name,email\nC1,"=HYPERLINK(""http://x"")",a@example.com\n'
    report = run_import(db, settings, write(tmp_path / "c.csv", text), "customers")
    assert any("spreadsheet formulas" in w for w in report.warnings)
    with db.session() as s:
        assert s.scalar(select(Customer.first_name)) == '=HYPERLINK("http://x")'


def test_missing_file_and_folder(db, settings, tmp_path: Path) -> None:
    assert "No such file" in failing(db, settings, tmp_path / "nope.csv")
    assert "is a folder" in failing(db, settings, tmp_path)
