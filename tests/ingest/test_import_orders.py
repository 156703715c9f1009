"""Orders import: lines, returns, refunds, customers/employees/products on first sight, Shopify layout."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from helpers_import import count, run_import, write
from sqlalchemy import event, inspect, select
from sqlcount import counted

from ravingfans.db.models import Customer, Employee, Order, OrderLine, ProductVariant
from ravingfans.errors import ImportFailed
from ravingfans.ingest import merge
from ravingfans.ingest.importer import SQLITE_IMPORT_CACHE_KIB
from ravingfans.ingest.layouts import SHOPIFY_ORDER_HEADER

ORDERS = """order_id,ordered_at,customer_id,email,first_name,last_name,employee,channel,sku,product_name,quantity,unit_price,discount,kind
O1,2025-01-05 10:00,C1,ann@example.com,Ann,Lee,Maria,store,SKU1,Boot,1,120.00,10,sale
O1,2025-01-05 10:00,C1,ann@example.com,Ann,Lee,Maria,store,SKU2,Sock,2,5.50,,sale
O2,2025-02-01T12:00:00+01:00,,carl@example.com,Carl,,Tom,web,SKU1,Boot,1,120,,
O3,2025-02-03 09:30,C1,ann@example.com,Ann,Lee,Maria,store,SKU1,Boot,1,120,,return
"""


def orders(db) -> dict[str, Order]:
    with db.session() as s:
        return {o.external_id: o for o in s.scalars(select(Order)).all()}


def lines(db, external_id: str) -> list[OrderLine]:
    with db.session() as s:
        return list(s.scalars(select(OrderLine).join(Order).where(Order.external_id == external_id)
                              .order_by(OrderLine.line_no)))


def test_orders_lines_and_what_they_name(db, settings, tmp_path: Path) -> None:
    report = run_import(db, settings, write(tmp_path / "o.csv", ORDERS), "orders")
    assert (report.rows, report.created, report.customers_created) == (4, 3, 2)
    got = orders(db)
    assert got["O1"].total == Decimal("121.00")  # 120 - 10 + 2 * 5.50
    assert got["O3"].total == Decimal("-120.00")
    assert got["O2"].placed_at.isoformat() == "2025-02-01T11:00:00+00:00"  # offset honoured, stored in UTC
    assert got["O1"].placed_at.isoformat() == "2025-01-05T10:00:00+00:00"  # naive: business zone (UTC here)
    ret = lines(db, "O3")[0]
    assert (ret.kind, ret.quantity, ret.amount) == ("return", -1, Decimal("-120.00"))
    assert [(ln.line_no, ln.sku, ln.quantity) for ln in lines(db, "O1")] == [(1, "SKU1", 1), (2, "SKU2", 2)]
    assert count(db, Employee) == 2 and count(db, ProductVariant) == 2 and count(db, Customer) == 2
    assert got["O1"].customer_id == got["O3"].customer_id != got["O2"].customer_id


def test_business_time_zone_applies_to_naive_times(db, settings, tmp_path: Path) -> None:
    zoned = settings.model_copy(update={"time_zone": "Europe/Berlin"})
    run_import(db, zoned, write(tmp_path / "o.csv", ORDERS), "orders")
    assert orders(db)["O1"].placed_at.isoformat() == "2025-01-05T09:00:00+00:00"


def test_reimport_unchanged_then_changed_line_replaces_order_lines(db, settings, tmp_path: Path) -> None:
    path = write(tmp_path / "o.csv", ORDERS)
    run_import(db, settings, path, "orders")
    again = run_import(db, settings, path, "orders")
    assert (again.created, again.updated, again.unchanged, again.customers_created) == (0, 0, 3, 0)
    assert count(db, OrderLine) == 4
    write(path, ORDERS.replace("SKU2,Sock,2,5.50", "SKU2,Sock,3,5.50"))
    changed = run_import(db, settings, path, "orders")
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    assert count(db, OrderLine) == 4 and orders(db)["O1"].total == Decimal("126.50")


SCATTERED = """order_id,ordered_at,customer_id,email,first_name,employee,sku,product_name,quantity,unit_price
O1,2025-01-05 10:00,C1,ann@example.com,Ann,Maria,SKU1,Boot,1,120
O2,2025-01-06 11:00,C2,carl@example.com,Carl,Tom,SKU3,Hat,1,20
O1,2025-01-05 10:00,C1,ann@example.com,Ann,Maria,SKU2,Sock,2,5
O2,2025-01-06 11:00,C2,carl@example.com,Carl,Tom,SKU4,Belt,1,30
O3,2025-01-07 12:00,C1,ann@example.com,Ann,Maria,SKU5,Coat,1,200
O3,2025-01-07 12:00,C1,ann@example.com,Ann,Maria,SKU6,Scarf,1,40
O1,2025-01-05 10:00,C1,ann@example.com,Ann,Maria,SKU7,Lace,3,1
"""


def test_lines_numbered_in_file_order_whether_together_or_scattered(db, settings, tmp_path: Path,
                                                                    monkeypatch) -> None:
    # O3's lines sit together (numbered from their row numbers), O1's and O2's are scattered (numbered by a sort);
    # tiny read blocks put each order's lines in different batches too. Every order must have all its details.
    monkeypatch.setattr("ravingfans.ingest.readers.BLOCK_SIZE", 150)
    path = write(tmp_path / "o.csv", SCATTERED)
    report = run_import(db, settings, path, "orders")
    assert (report.rows, report.created) == (7, 3)
    assert [(ln.line_no, ln.sku) for ln in lines(db, "O1")] == [(1, "SKU1"), (2, "SKU2"), (3, "SKU7")]
    assert [(ln.line_no, ln.sku) for ln in lines(db, "O2")] == [(1, "SKU3"), (2, "SKU4")]
    assert [(ln.line_no, ln.sku) for ln in lines(db, "O3")] == [(1, "SKU5"), (2, "SKU6")]
    got = orders(db)
    assert (got["O1"].total, got["O2"].total, got["O3"].total) == (Decimal("133.00"), Decimal("50.00"),
                                                                   Decimal("240.00"))
    assert _served_by(db) == {"O1": "Maria", "O2": "Tom", "O3": "Maria"}
    assert got["O2"].placed_at.isoformat() == "2025-01-06T11:00:00+00:00"
    assert got["O1"].customer_id == got["O3"].customer_id != got["O2"].customer_id
    again = run_import(db, settings, path, "orders")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    write(path, SCATTERED.replace("SKU6,Scarf,1,40", "SKU6,Scarf,2,40"))
    changed = run_import(db, settings, path, "orders")
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    assert [(ln.line_no, ln.quantity) for ln in lines(db, "O3")] == [(1, 1), (2, 2)]
    assert count(db, OrderLine) == 7


def _served_by(db) -> dict[str, str | None]:
    with db.session() as s:
        rows = s.execute(select(Order.external_id, Employee.name).outerjoin(Employee, Order.employee_id == Employee.id))
        return dict(rows.all())


def test_each_order_keeps_who_served_it_when_created_and_when_changed(db, settings, tmp_path: Path) -> None:
    path = write(tmp_path / "o.csv", ORDERS.replace("Carl,,Tom,web", "Carl,,,web"))
    run_import(db, settings, path, "orders")
    assert _served_by(db) == {"O1": "Maria", "O2": None, "O3": "Maria"}
    write(path, ORDERS.replace("Lee,Maria,store,SKU1,Boot,1,120,,return", "Lee,Tom,store,SKU1,Boot,1,120,,return"))
    changed = run_import(db, settings, path, "orders")
    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 1)  # O2 gained Tom, O3 moved to him
    assert _served_by(db) == {"O1": "Maria", "O2": "Tom", "O3": "Tom"}


def test_orders_attach_to_imported_customers(db, settings, tmp_path: Path) -> None:
    run_import(db, settings, write(tmp_path / "c.csv", "customer_id,email,first_name\nC1,ann@example.com,Ann\n"),
               "customers")
    report = run_import(db, settings, write(tmp_path / "o.csv", ORDERS), "orders")
    assert report.customers_created == 1  # only Carl is new
    with db.session() as s:
        ann = s.scalars(select(Customer).where(Customer.email == "ann@example.com")).one()
    assert orders(db)["O1"].customer_id == ann.id


def test_no_create_customers_rejects_unknown(db, settings, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed) as err:
        run_import(db, settings, write(tmp_path / "o.csv", ORDERS), "orders", create_customers=False)
    assert "not on file" in str(err.value) and "line 2" in str(err.value)
    assert count(db, Order) == 0 and count(db, Customer) == 0


def test_lines_that_disagree_on_the_order_are_rejected(db, settings, tmp_path: Path) -> None:
    text = ORDERS.replace("O1,2025-01-05 10:00,C1,ann@example.com,Ann,Lee,Maria,store,SKU2",
                          "O1,2025-01-06 10:00,C1,ann@example.com,Ann,Lee,Maria,store,SKU2")
    with pytest.raises(ImportFailed) as err:
        run_import(db, settings, write(tmp_path / "o.csv", text), "orders")
    assert "disagree" in str(err.value) and "'O1'" in str(err.value)
    assert count(db, Order) == 0


def test_skip_invalid_rejects_whole_orders_and_writes_reasons(db, settings, tmp_path: Path) -> None:
    text = ORDERS.replace("SKU2,Sock,2,5.50", "SKU2,Sock,0,5.50")  # second line of O1 is bad
    path = write(tmp_path / "o.csv", text)
    report = run_import(db, settings, path, "orders", skip_invalid=True)
    assert set(orders(db)) == {"O2", "O3"}
    assert report.rejected == 2
    rejects = (tmp_path / "o.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0].startswith("line,error,order_id")
    assert any(r.startswith("3,quantity: must be a whole number above 0") for r in rejects)
    assert any(r.startswith("2,another line of the same order was rejected") for r in rejects)


def _shopify_row(**values: str) -> str:
    return ",".join(f'"{values.get(h, "")}"' if values.get(h) else "" for h in SHOPIFY_ORDER_HEADER)


def test_shopify_orders_with_continuation_rows(db, settings, tmp_path: Path) -> None:
    rows = [
        ",".join(SHOPIFY_ORDER_HEADER),
        _shopify_row(**{"Name": "#1001", "Email": "Ann@Example.com", "Financial Status": "partially_refunded",
                        "Paid at": "2025-03-05 14:22:10 +0100", "Created at": "2025-03-05 14:22:10 +0100",
                        "Lineitem quantity": "2", "Lineitem name": "Trail Boot - 38", "Lineitem price": "120.00",
                        "Lineitem sku": "B-38", "Billing Name": "Ann Marie Lee", "Refunded Amount": "20.00",
                        "Source": "pos", "Employee": "Maria", "Location": "Main St", "Lineitem discount": "0.00"}),
        _shopify_row(**{"Name": "#1001", "Lineitem quantity": "1", "Lineitem name": "Sock", "Lineitem price": "5.00",
                        "Lineitem sku": "S-1"}),
        _shopify_row(**{"Name": "#1002", "Email": "bob@example.com", "Financial Status": "paid",
                        "Created at": "2025-03-06 09:00:00 -0500", "Lineitem quantity": "1",
                        "Lineitem name": "Sock", "Lineitem price": "5.00", "Lineitem sku": "S-1",
                        "Cancelled at": "2025-03-06 10:00:00 -0500", "Source": "web"}),
    ]
    path = write(tmp_path / "orders_export.csv", "\n".join(rows) + "\n")
    report = run_import(db, settings, path, "orders", format="shopify")
    assert (report.created, report.customers_created) == (2, 2)
    got = orders(db)
    first = got["#1001"]
    assert first.total == Decimal("225.00")  # 2 * 120 + 5 - 20 refunded
    assert first.channel == "store" and first.location == "Main St" and first.financial_status == "partially_refunded"
    assert first.placed_at.isoformat() == "2025-03-05T13:22:10+00:00"
    assert [(ln.kind, ln.amount) for ln in lines(db, "#1001")] == [
        ("sale", Decimal("240.00")), ("sale", Decimal("5.00")), ("refund", Decimal("-20.00"))]
    assert got["#1002"].cancelled_at is not None and got["#1002"].channel == "web"
    with db.session() as s:
        ann = s.scalars(select(Customer).where(Customer.email == "ann@example.com")).one()
        assert (ann.first_name, ann.last_name) == ("Ann", "Marie Lee")
    assert run_import(db, settings, path, "orders", format="shopify").unchanged == 2


def test_shopify_customers_export(db, settings, tmp_path: Path) -> None:
    from ravingfans.ingest.layouts import SHOPIFY_CUSTOMER_HEADER

    values = {"Customer ID": "7001", "First Name": "Ann", "Last Name": "Lee", "Email": "ann@example.com",
              "Accepts Email Marketing": "yes", "Default Address City": "Portland",
              "Default Address Country Code": "US", "Phone": "+1 503 555 0101", "Tags": "vip, boots",
              "Note": "Prefers wide fit"}
    row = ",".join(f'"{values.get(h, "")}"' for h in SHOPIFY_CUSTOMER_HEADER)
    path = write(tmp_path / "customers_export.csv", ",".join(SHOPIFY_CUSTOMER_HEADER) + "\n" + row + "\n")
    report = run_import(db, settings, path, "customers", format="shopify")
    assert report.created == 1
    with db.session() as s:
        ann = s.scalars(select(Customer)).one()
    assert (ann.city, ann.country, ann.phone, ann.tags, ann.notes, ann.email_consent) == (
        "Portland", "US", "+15035550101", ["vip", "boots"], "Prefers wide fit", True)


def _line_keys(db) -> list[tuple[str, str, str | None]]:
    """The order lines' foreign keys as the database has them: (name, referred table, on delete)."""
    keys = inspect(db.engine).get_foreign_keys("order_lines")
    return sorted((k["name"], k["referred_table"], (k.get("options") or {}).get("ondelete")) for k in keys)


def _indexes(db) -> list[tuple[str, str, tuple[str, ...], bool]]:
    """The orders' and lines' indexes and unique keys as the database has them: (table, name, columns, unique)."""
    insp = inspect(db.engine)
    found = []
    for table in ("orders", "order_lines"):
        found += [(table, i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)]
        found += [(table, u["name"], tuple(u["column_names"]), True) for u in insp.get_unique_constraints(table)]
    return sorted(set(found))


def test_everyday_import_keeps_the_per_row_upkeep(db, settings, tmp_path: Path) -> None:
    with counted(db) as statements:
        run_import(db, settings, write(tmp_path / "o.csv", ORDERS), "orders")
    assert not [s for s in statements if "CONSTRAINT" in s or "INDEX ix_order" in s]


@pytest.mark.parametrize("dry_run", [False, True])
def test_bulk_load_builds_indexes_and_keys_after_and_puts_them_back(db, settings, tmp_path: Path, monkeypatch,
                                                                     dry_run: bool) -> None:
    keys_before, indexes_before = _line_keys(db), _indexes(db)
    monkeypatch.setattr(merge, "BULK_LINES", 1)
    with counted(db) as statements:
        run_import(db, settings, write(tmp_path / "o.csv", ORDERS), "orders", dry_run=dry_run)
    upkeep = [s.split()[0:2] + s.split()[3:5] for s in statements if "CONSTRAINT" in s or "INDEX ix_order" in s]
    if db.engine.dialect.name != "postgresql":  # SQLite gains nothing from it: it keeps its indexes
        assert upkeep == []
        return
    indexes = 4  # the orders' three secondary indexes and the lines' variant index
    dropped = [["ALTER", "TABLE", "DROP", "CONSTRAINT"]] * 3 + [["DROP", "INDEX"]] * indexes
    added = [["CREATE", "INDEX"]] * indexes + [["ALTER", "TABLE", "ADD", "CONSTRAINT"]] * 3
    assert [u[:2] if u[0] != "ALTER" else u for u in upkeep] == dropped + added
    assert _line_keys(db) == keys_before == [
        ("fk_order_lines_order_id_orders", "orders", "CASCADE"),
        ("fk_order_lines_variant_id_product_variants", "product_variants", "SET NULL")]
    assert _indexes(db) == indexes_before
    assert {n for _t, n, _c, _u in indexes_before} >= {
        "ix_orders_customer_placed", "ix_orders_placed_at", "ix_orders_employee_id", "ix_order_lines_variant_id",
        "uq_orders_source_external_id", "uq_order_lines_order_id_line_no"}
    assert count(db, OrderLine) == (0 if dry_run else 4)
    if not dry_run:
        assert [(ln.line_no, ln.sku) for ln in lines(db, "O1")] == [(1, "SKU1"), (2, "SKU2")]
        # a smaller load than the ledger it lands in keeps the row-by-row upkeep (and the readers unblocked)
        with counted(db) as statements:
            run_import(db, settings, write(tmp_path / "p.csv", ORDERS.replace("O1,", "O9,")), "orders")
        assert not [s for s in statements if "CONSTRAINT" in s or "INDEX ix_order" in s]


def test_a_bulk_load_that_breaks_a_key_rolls_back_with_every_index_in_place(db, settings, tmp_path: Path,
                                                                              monkeypatch) -> None:
    """A failure after the indexes were dropped (here: building one again fails) leaves the
    ledger, its indexes and its keys as they were."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL builds indexes after a bulk load")
    keys_before, indexes_before = _line_keys(db), _indexes(db)
    monkeypatch.setattr(merge, "BULK_LINES", 1)
    real = merge.CreateIndex

    def failing(index):
        raise RuntimeError("killed while building indexes")

    monkeypatch.setattr(merge, "CreateIndex", failing)
    with pytest.raises(RuntimeError, match="killed"):
        run_import(db, settings, write(tmp_path / "o.csv", ORDERS), "orders")
    monkeypatch.setattr(merge, "CreateIndex", real)
    assert count(db, Order) == count(db, OrderLine) == 0
    assert _line_keys(db) == keys_before and _indexes(db) == indexes_before


def test_sqlite_import_gives_its_connection_cache_back(db, settings, tmp_path: Path) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the page cache is SQLite's")
    with db.engine.connect() as conn:
        default = conn.connection.driver_connection.execute("PRAGMA cache_size").fetchone()[0]
    seen: list[int] = []

    def cache(conn, *_args) -> None:
        seen.append(conn.connection.driver_connection.execute("PRAGMA cache_size").fetchone()[0])

    event.listen(db.engine, "before_cursor_execute", cache)
    try:
        run_import(db, settings, write(tmp_path / "o.csv", ORDERS), "orders")
    finally:
        event.remove(db.engine, "before_cursor_execute", cache)
    with db.engine.connect() as conn:  # the pool hands back the import's connection
        after = conn.connection.driver_connection.execute("PRAGMA cache_size").fetchone()[0]
    assert set(seen) == {-SQLITE_IMPORT_CACHE_KIB} != {default}
    assert after == default


def test_a_failed_import_reports_its_own_error_when_its_connection_was_discarded(db, settings, tmp_path: Path,
                                                                                  monkeypatch) -> None:
    from ravingfans.ingest import importer

    monkeypatch.setattr(importer, "_drop_staging", lambda conn, _name, **_: conn.invalidate())  # as after a broken DROP
    with pytest.raises(ImportFailed, match="no data rows"):
        run_import(db, settings, write(tmp_path / "o.csv", ORDERS.splitlines()[0] + "\n"), "orders")


def _product_names(db) -> dict[str, str]:
    from ravingfans.db.models import Product

    with db.session() as s:
        return {v.sku: p.name for v, p in s.execute(select(ProductVariant, Product).join(Product))}


def test_each_sku_becomes_one_product_named_by_the_greatest_name_on_its_lines(db, settings, tmp_path: Path,
                                                                            monkeypatch) -> None:
    # small read blocks and frequent compaction: SKUs gathered over several batches (SQLite) name as the SQL did
    monkeypatch.setattr("ravingfans.ingest.readers.BLOCK_SIZE", 150)
    monkeypatch.setattr("ravingfans.ingest.importer._SkuNames.COMPACT_EVERY", 2)
    text = """order_id,ordered_at,customer_id,sku,product_name,quantity,unit_price
O1,2025-01-05 10:00,C1,S1,Boot,1,120
O2,2025-01-06 10:00,C2,S2,,1,20
O3,2025-01-07 10:00,C1,S1,Zebra boot,1,120
O4,2025-01-08 10:00,C3,S3,Hat,1,15
O5,2025-01-09 10:00,C3,S1,Boot,2,120
"""
    run_import(db, settings, write(tmp_path / "o.csv", text), "orders")
    assert _product_names(db) == {"S1": "Zebra boot", "S2": "S2", "S3": "Hat"}


def test_a_rejected_orders_skus_make_no_product(db, settings, tmp_path: Path) -> None:
    text = """order_id,ordered_at,customer_id,sku,product_name,quantity,unit_price
O1,2025-01-05 10:00,C1,S1,Boot,1,120
O9,2025-01-06 10:00,C2,ONLY9,Lamp,1,20
O9,2025-01-06 10:00,C2,S1,Boot,0,120
"""
    report = run_import(db, settings, write(tmp_path / "o.csv", text), "orders", skip_invalid=True)
    assert report.rejected == 2
    assert _product_names(db) == {"S1": "Boot"}
