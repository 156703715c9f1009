"""Write a demo business as the CSV files shops bring: ravingfans's generic layout and Shopify's exports.

Generic (docs/import.md): customers.csv, products.csv, orders.csv, one row per order line, returns
as rows with ``kind=return`` and goodwill refunds as the order's ``refunded_amount``.
Shopify: orders_shopify.csv and customers_shopify.csv with Shopify's own headers. Shopify has no
return receipts, so returned goods and refunds both show as the original order's Refunded Amount.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from ravingfans.demo.model import DemoBusiness, DemoCustomer, DemoLine, DemoOrder
from ravingfans.ingest.layouts import FIELDS, SHOPIFY_CUSTOMER_HEADER, SHOPIFY_ORDER_HEADER

FILES = ("customers.csv", "products.csv", "orders.csv", "customers_shopify.csv", "orders_shopify.csv")
SHOPIFY_SOURCE = {"web": "web", "store": "pos", "phone": "shopify_draft_order", "email": "shopify_draft_order",
                  "other": "shopify_draft_order"}
# Columns filled on every row of an order; the order columns only on its first row (continuation rows
# leave them empty, which is what the importer expects: a continuation row must not disagree).
SHOPIFY_LINE_COLUMNS = frozenset({
    "Name", "Lineitem quantity", "Lineitem name", "Lineitem price",
    "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping", "Lineitem taxable",
    "Lineitem fulfillment status", "Vendor", "Lineitem discount",
})
SHOPIFY_ID_BASE = 5_400_000_000


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _yes(value: bool | None) -> str:
    return "yes" if value else "no"


def _write(path: Path, header: list[str], rows: Iterable[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


class _Clock:
    """Formats UTC datetimes as the store's local time."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)

    def iso(self, at: datetime | None) -> str:
        return "" if at is None else at.astimezone(self.zone).isoformat(timespec="seconds")

    def shopify(self, at: datetime | None) -> str:
        return "" if at is None else at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S %z")


def _customer_rows(b: DemoBusiness) -> Iterable[dict[str, str]]:
    for c in b.customers:
        yield {
            "customer_id": c.key, "first_name": c.first_name, "last_name": c.last_name, "email": c.email or "",
            "phone": c.phone or "", "address_line1": c.address_line1 or "", "address_line2": c.address_line2 or "",
            "city": c.city or "", "region": c.region or "", "postal_code": c.postal_code or "",
            "country": c.country or "", "birthday": c.birthday.isoformat() if c.birthday else "",
            "language": c.language or "", "email_consent": "" if c.email_consent is None else _yes(c.email_consent),
            "tags": "; ".join(c.tags), "likes": "; ".join(c.likes), "dislikes": "; ".join(c.dislikes),
            "sizes": "; ".join(f"{k}={v}" for k, v in c.sizes.items()), "notes": c.notes or "",
            "referred_by": c.referred_by or "",
        }


def _product_rows(b: DemoBusiness) -> Iterable[dict[str, str]]:
    products = {p.key: p for p in b.products}
    for v in b.variants:
        p = products[v.product_key]
        yield {"sku": v.sku, "product_id": p.key, "name": p.name, "category": p.category, "brand": p.brand,
               "size": v.size or "", "colour": v.colour or "", "price": _money(v.price), "stock": str(v.stock)}


def _lines_by_order(b: DemoBusiness) -> dict[str, list[DemoLine]]:
    by_order: dict[str, list[DemoLine]] = defaultdict(list)
    for line in b.lines:
        by_order[line.order_key].append(line)
    return by_order


def _order_rows(b: DemoBusiness, clock: _Clock, lines: dict[str, list[DemoLine]]) -> Iterable[dict[str, str]]:
    customers = {c.key: c for c in b.customers}
    staff = {e.key: e.name for e in b.employees}
    for o in b.orders:
        c = customers[o.customer_key]
        refunded = -sum((ln.amount for ln in lines[o.key] if ln.kind == "refund"), Decimal(0))
        head = {
            "order_id": o.key, "ordered_at": clock.iso(o.placed_at), "customer_id": c.key, "email": c.email or "",
            "first_name": c.first_name, "last_name": c.last_name, "customer_name": f"{c.first_name} {c.last_name}",
            "phone": c.phone or "", "employee": staff[o.employee_key] if o.employee_key else "", "channel": o.channel,
            "location": o.location, "status": o.financial_status, "cancelled_at": clock.iso(o.cancelled_at),
            "refunded_amount": _money(refunded) if refunded else "",
        }
        for ln in lines[o.key]:
            if ln.kind == "refund":
                continue
            yield {**head, "sku": ln.sku or "", "product_name": ln.product_name, "quantity": str(abs(ln.quantity)),
                   "unit_price": _money(ln.unit_price), "discount": _money(abs(ln.discount)), "kind": ln.kind}


def _shopify_status(order: DemoOrder, total: Decimal, refunded: Decimal) -> str:
    if order.cancelled_at is not None:
        return "voided"
    if refunded >= total > 0:
        return "refunded"
    return "partially_refunded" if refunded else "paid"


def _shopify_order_rows(b: DemoBusiness, clock: _Clock, lines: dict[str, list[DemoLine]]) -> Iterable[dict[str, str]]:
    customers = {c.key: c for c in b.customers}
    staff = {e.key: e.name for e in b.employees}
    brand = {p.key: p.brand for p in b.products}
    vendor = {v.sku: brand[v.product_key] for v in b.variants}
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    for o in b.orders:
        if o.returns_order is not None:
            refunded[o.returns_order] -= o.total
    blank = dict.fromkeys(SHOPIFY_ORDER_HEADER, "")
    for o in b.orders:
        if o.returns_order is not None:
            continue
        c: DemoCustomer = customers[o.customer_key]
        sales = [ln for ln in lines[o.key] if ln.kind == "sale"]
        back = refunded[o.key] - sum((ln.amount for ln in lines[o.key] if ln.kind == "refund"), Decimal(0))
        subtotal = sum((ln.amount for ln in sales), Decimal(0))
        discount = sum((ln.discount for ln in sales), Decimal(0))
        created = clock.shopify(o.placed_at)
        web = o.channel == "web"
        address = {
            "Street": ", ".join(p for p in (c.address_line1, c.address_line2) if p), "Address1": c.address_line1 or "",
            "Address2": c.address_line2 or "", "Company": "", "City": c.city or "", "Zip": c.postal_code or "",
            "Province": c.region or "", "Country": c.country or "", "Phone": c.phone or "",
        }
        first = {
            **blank, "Financial Status": _shopify_status(o, subtotal, back),
            "Paid at": "" if o.cancelled_at else created, "Fulfillment Status": "fulfilled",
            "Fulfilled at": "" if o.cancelled_at else created, "Accepts Marketing": _yes(c.email_consent),
            "Currency": b.currency, "Subtotal": _money(subtotal), "Shipping": "0.00", "Taxes": "0.00",
            "Total": _money(subtotal), "Discount Code": o.discount_code or "", "Discount Amount": _money(discount),
            "Shipping Method": "Standard" if web else "", "Billing Name": f"{c.first_name} {c.last_name}",
            **{f"Billing {k}": v for k, v in address.items()},
            "Cancelled at": clock.shopify(o.cancelled_at),
            "Payment Method": "Shopify Payments" if web else "Cash" if int(o.key) % 5 == 0 else "Shopify Payments",
            "Refunded Amount": _money(back), "Outstanding Balance": "0.00",
            "Employee": staff[o.employee_key] if o.employee_key else "",
            "Location": o.location if not web else "", "Id": str(SHOPIFY_ID_BASE + int(o.key)),
            "Risk Level": "Low", "Source": SHOPIFY_SOURCE[o.channel], "Phone": c.phone or "",
            "Email": c.email or "", "Created at": created,
        }
        if web:
            first.update({"Shipping Name": f"{c.first_name} {c.last_name}",
                          **{f"Shipping {k}": v for k, v in address.items()}})
        for i, ln in enumerate(sales):
            row = first if i == 0 else dict(blank)
            row.update({
                "Name": f"#{o.key}", "Lineitem quantity": str(ln.quantity), "Lineitem name": ln.product_name,
                "Lineitem price": _money(ln.unit_price), "Lineitem compare at price": "",
                "Lineitem sku": ln.sku or "", "Lineitem requires shipping": "true" if web else "false",
                "Lineitem taxable": "true", "Lineitem fulfillment status": "fulfilled",
                "Vendor": vendor.get(ln.sku or "", ""), "Lineitem discount": _money(ln.discount),
            })
            yield row


def _shopify_customer_rows(b: DemoBusiness) -> Iterable[dict[str, str]]:
    spent: dict[str, Decimal] = defaultdict(Decimal)
    count: dict[str, int] = defaultdict(int)
    cancelled = {o.key for o in b.orders if o.cancelled_at is not None}
    owner = {o.key: o.customer_key for o in b.orders}
    for ln in b.lines:
        if ln.order_key not in cancelled:
            spent[owner[ln.order_key]] += ln.amount
    for o in b.orders:
        if o.cancelled_at is None and o.returns_order is None:
            count[o.customer_key] += 1
    for i, c in enumerate(b.customers, start=1):
        yield {
            "Customer ID": str(SHOPIFY_ID_BASE * 2 + i), "First Name": c.first_name, "Last Name": c.last_name,
            "Email": c.email or "", "Accepts Email Marketing": _yes(c.email_consent), "Default Address Company": "",
            "Default Address Address1": c.address_line1 or "", "Default Address Address2": c.address_line2 or "",
            "Default Address City": c.city or "", "Default Address Province Code": c.region or "",
            "Default Address Country Code": c.country or "", "Default Address Zip": c.postal_code or "",
            "Default Address Phone": (c.phone or "") if c.address_line1 else "", "Phone": c.phone or "",
            "Accepts SMS Marketing": "no", "Total Spent": _money(spent[c.key]), "Total Orders": str(count[c.key]),
            "Note": c.notes or "", "Tax Exempt": "no", "Tags": ", ".join(c.tags),
        }


def write_csv(business: DemoBusiness, directory: str | Path) -> dict[str, Path]:
    """Write the business into ``directory`` (created if needed) in both layouts; returns file name -> path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    clock = _Clock(business.time_zone)
    lines = _lines_by_order(business)
    paths = {name: out / name for name in FILES}
    _write(paths["customers.csv"], list(FIELDS["customers"]), _customer_rows(business))
    _write(paths["products.csv"], list(FIELDS["products"]), _product_rows(business))
    _write(paths["orders.csv"], list(FIELDS["orders"]), _order_rows(business, clock, lines))
    _write(paths["customers_shopify.csv"], list(SHOPIFY_CUSTOMER_HEADER), _shopify_customer_rows(business))
    _write(paths["orders_shopify.csv"], list(SHOPIFY_ORDER_HEADER), _shopify_order_rows(business, clock, lines))
    return paths
