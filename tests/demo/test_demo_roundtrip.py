"""The demo's CSV files go back in through the real importer and give the same business, in both layouts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from ravingfans.config import Settings
from ravingfans.db import make_engine
from ravingfans.db.models import Customer, Order, OrderLine
from ravingfans.demo import generate, write_csv
from ravingfans.ingest.importer import ImportOptions, import_file


def test_csv_files_import_to_the_same_money(settings: Settings, database_url: str, tmp_path: Path) -> None:
    business = generate(seed=5, customers=250, years=1)
    files = write_csv(business, tmp_path / "csv")
    engine = make_engine(database_url)
    try:
        steps = (("products", "products.csv", "generic"), ("customers", "customers.csv", "generic"),
                 ("orders", "orders.csv", "generic"), ("customers", "customers_shopify.csv", "shopify"),
                 ("orders", "orders_shopify.csv", "shopify"))
        for kind, name, layout in steps:
            report = import_file(engine, settings, files[name], ImportOptions(kind=kind, format=layout))
            assert report.rejected == 0 and report.rows > 0, (name, report.summary())
        live = Order.cancelled_at.is_(None)
        with engine.connect() as conn:
            for source in ("generic", "shopify"):
                revenue = conn.scalar(select(func.sum(Order.total)).where(live, Order.source == source))
                assert revenue == business.revenue(), source
            generic_orders = conn.scalar(select(func.count()).select_from(Order).where(Order.source == "generic"))
            assert generic_orders == len(business.orders)
            returns = conn.scalar(select(func.sum(OrderLine.amount)).join(Order)
                                  .where(Order.source == "generic", OrderLine.kind == "return"))
            assert returns == sum(ln.amount for ln in business.lines if ln.kind == "return")
            referred = conn.scalar(select(func.count()).select_from(Customer)
                                   .where(Customer.referred_by_id.is_not(None)))
            assert referred == sum(1 for c in business.customers if c.referred_by)
            # Shopify customers are recognised by e-mail; only those without one come in again.
            shopify_new = conn.scalar(select(func.count()).select_from(Customer).where(Customer.source == "shopify"))
            assert shopify_new == sum(1 for c in business.customers if not c.email)
    finally:
        engine.dispose()
