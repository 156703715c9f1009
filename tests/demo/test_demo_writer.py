"""The demo's CSV files: exactly the documented headers, re-readable, and adding up to the business."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from ravingfans.demo import DemoBusiness, generate, write_csv
from ravingfans.ingest.layouts import FIELDS, SHOPIFY_CUSTOMER_HEADER, SHOPIFY_ORDER_HEADER
from ravingfans.ingest.normalize import normalize_email, normalize_phone

SHOPIFY_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


@pytest.fixture(scope="module")
def business() -> DemoBusiness:
    return generate(seed=5, customers=400, years=1)


@pytest.fixture(scope="module")
def files(business: DemoBusiness, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_csv(business, tmp_path_factory.mktemp("demo_csv") / "out")


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def test_headers_are_exactly_the_documented_ones(files: dict[str, Path]) -> None:
    assert _read(files["customers.csv"])[0] == list(FIELDS["customers"])
    assert _read(files["products.csv"])[0] == list(FIELDS["products"])
    assert _read(files["orders.csv"])[0] == list(FIELDS["orders"])
    assert _read(files["customers_shopify.csv"])[0] == SHOPIFY_CUSTOMER_HEADER
    assert _read(files["orders_shopify.csv"])[0] == SHOPIFY_ORDER_HEADER


def test_generic_files_hold_the_business(business: DemoBusiness, files: dict[str, Path]) -> None:
    _, customers = _read(files["customers.csv"])
    _, products = _read(files["products.csv"])
    _, orders = _read(files["orders.csv"])
    assert [r["customer_id"] for r in customers] == [c.key for c in business.customers]
    assert len(products) == len(business.variants)
    assert len(orders) == sum(1 for ln in business.lines if ln.kind != "refund")
    keys = {c.key for c in business.customers}
    for row in customers:
        assert row["email_consent"] in ("yes", "no", "")
        assert row["referred_by"] == "" or row["referred_by"] in keys
        if row["email"]:
            assert normalize_email(row["email"]) == row["email"]
        if row["phone"]:
            assert normalize_phone(row["phone"]) == row["phone"]
        if row["sizes"]:
            assert all(re.fullmatch(r"\w+=[\w.]+", part) for part in row["sizes"].split("; "))
    skus = {r["sku"] for r in products}
    # Money adds up: sales minus returns minus refunds (once per order), cancelled orders left out.
    total = Decimal(0)
    refunded: dict[str, Decimal] = {}
    for row in orders:
        assert ISO_TIME.match(row["ordered_at"])
        assert int(row["quantity"]) > 0 and row["kind"] in ("sale", "return")
        assert row["sku"] in skus
        if row["cancelled_at"]:
            continue
        net = int(row["quantity"]) * Decimal(row["unit_price"]) - Decimal(row["discount"])
        total += net if row["kind"] == "sale" else -net
        if row["refunded_amount"]:
            refunded[row["order_id"]] = Decimal(row["refunded_amount"])
    assert total - sum(refunded.values(), Decimal(0)) == business.revenue()


def test_shopify_files_look_like_shopify_exports(business: DemoBusiness, files: dict[str, Path]) -> None:
    _, rows = _read(files["orders_shopify.csv"])
    by_name: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_name[row["Name"]].append(row)
    purchases = [o for o in business.orders if o.returns_order is None]
    assert len(by_name) == len(purchases)
    revenue = Decimal(0)
    for name, lines in by_name.items():
        assert name.startswith("#")
        head, rest = lines[0], lines[1:]
        assert SHOPIFY_TIME.match(head["Created at"])
        assert head["Financial Status"] in ("paid", "partially_refunded", "refunded", "voided")
        assert head["Accepts Marketing"] in ("yes", "no")
        assert head["Source"] in ("web", "pos", "shopify_draft_order")
        for line in rest:  # continuation rows: line items only
            assert line["Financial Status"] == "" and line["Total"] == "" and line["Billing Name"] == ""
            assert line["Lineitem name"] and line["Lineitem quantity"]
        subtotal = sum(int(x["Lineitem quantity"]) * Decimal(x["Lineitem price"]) - Decimal(x["Lineitem discount"])
                       for x in lines)
        assert Decimal(head["Total"]) == subtotal
        if head["Financial Status"] != "voided":
            revenue += Decimal(head["Total"]) - Decimal(head["Refunded Amount"])
    assert revenue == business.revenue()
    _, customers = _read(files["customers_shopify.csv"])
    assert len(customers) == len(business.customers)
    assert {r["Accepts Email Marketing"] for r in customers} == {"yes", "no"}
    spent = sum((Decimal(r["Total Spent"]) for r in customers), Decimal(0))
    assert spent == business.revenue()
