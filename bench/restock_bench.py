"""Restock fan-out: 10,000 customers wait for one variant; it comes back; how long until every notice is queued.

    .venv/bin/python bench/restock_bench.py [DATABASE_URL] [--customers 10000] [--inferred-share 0.5]

Builds its own fresh database: a new SQLite file in a temporary folder (no URL, or a ``sqlite:///`` URL of a
file that does not exist yet), or, given a PostgreSQL URL, a new database ``rf_restock_bench_<random>`` on that
server (dropped afterwards; the database named in the URL is only used to connect). It adds N customers with
e-mail (all with e-mail consent), N waits for one variant (a share of them inferred: marketing mail with an
unsubscribe link; the rest asked in store: service mail, and the first few get a hold), sets the variant's
stock from 0 to 25 through the service (the restock hook), then times ``fan_out`` in one write transaction:
every notice rendered and queued in the outbox, every wait closed, the holds made. Goal (issue #6): under 10 s
for 10,000 waiting customers.

It also times the parts on their own (a fan-out to customers without e-mail, which skips the outbox, and
rendering plus building the same messages without a database) so the figures say where the time goes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from ravingfans.config import Settings
from ravingfans.db import make_engine, open_database
from ravingfans.db.migrate import upgrade
from ravingfans.db.models import Customer, OutboxMessage, Product, ProductVariant
from ravingfans.db.models.stock import StockWait
from ravingfans.mail.compose import Envelope, as_wire, build_message, message_id_for, render
from ravingfans.services import restock

GOAL_SECONDS = 10.0
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fresh_database(url: str) -> tuple[str, object]:
    """A URL of a new, migrated database, and a function that removes it."""
    if not url or url.startswith("sqlite"):
        folder = Path(tempfile.mkdtemp(prefix="rf_restock_bench_"))
        path = Path(make_url(url).database) if url else folder / "bench.db"
        if path.exists():
            raise SystemExit(f"{path} exists: give the path of a new file (the bench builds its own database).")
        made = f"sqlite:///{path}"
        engine = make_engine(made)
        upgrade(engine)
        engine.dispose()
        return made, lambda: path.unlink(missing_ok=True)
    server = make_url(url).set(drivername="postgresql+psycopg")
    name = f"rf_restock_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    made = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(made)
    upgrade(engine)
    engine.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return made, drop


def seed(url: str, customers: int, inferred_share: float, *, email: bool, sku: str) -> int:
    """N customers and their waits for one sold-out variant, inserted in bulk; the variant's id."""
    db = open_database(url)
    try:
        with db.session(write=True) as s:
            product = Product(source="bench", external_id=sku, name="Chelsea boots", created_at=T0,
                              variants=[ProductVariant(sku=sku, size="39", colour="brown", stock=0, updated_at=T0)])
            s.add(product)
            s.flush()
            variant = product.variants[0].id
            first = (s.scalar(select(func.max(Customer.id))) or 0) + 1
            inferred_every = round(1 / inferred_share) if inferred_share > 0 else 0
            for start in range(0, customers, 5000):
                rows = range(start, min(customers, start + 5000))
                s.execute(Customer.__table__.insert(), [dict(
                    first_name=f"Ana{n}", last_name="Lopez", email=f"ana{n}.{sku.lower()}@example.com" if email else None,
                    email_consent=True, language="es" if n % 3 == 0 else "en", created_at=T0, updated_at=T0,
                    personal_details={}, likes=[], dislikes=[], sizes={}, attributes={}, tags=[], source="bench")
                    for n in rows])
                s.execute(StockWait.__table__.insert(), [dict(
                    customer_id=first + n, variant_id=variant,
                    source="inferred" if inferred_every and n % inferred_every == 0 else "store",
                    want_hold=True, created_at=T0) for n in rows])
        return variant
    finally:
        db.dispose()


def time_fan_out(url: str, settings: Settings, sku: str) -> tuple[float, restock.FanOutReport, int]:
    """Stock 0 -> 25 for the variant, then one fan-out in one write transaction: seconds, report, outbox rows."""
    db = open_database(url)
    try:
        with db.session(write=True) as s:
            restock.set_stock(s, sku, 25, source="cli", clock=lambda: T0)
        started = time.perf_counter()
        with db.session(write=True) as s:
            report = restock.fan_out(s, settings, clock=lambda: T0)
        elapsed = time.perf_counter() - started
        with db.session() as s:
            queued = int(s.scalar(select(func.count(OutboxMessage.id))) or 0)
        return elapsed, report, queued
    finally:
        db.dispose()


def time_messages(n: int) -> float:
    """Render and build n back-in-stock messages with no database: the floor the mail code sets."""
    started = time.perf_counter()
    for i in range(n):
        rendered = render("back_in_stock", {"customer_first_name": f"Ana{i}", "product_name": "Chelsea boots",
                                            "variant_size": "39", "variant_colour": "brown", "sku": "CB-39",
                                            "asked": True, "held_until": date(2026, 3, 9)},
                          "en", business_name="Shoe & Co", business_address="12 High Street\nSpringfield")
        as_wire(build_message(rendered, Envelope(
            from_name="Shoe & Co", from_address="hello@shoe.example", to_address=f"ana{i}@example.com",
            to_name=f"Ana{i} Lopez", message_id=message_id_for(f"restock:1:wait:{i}", "hello@shoe.example"),
            date=T0, language="en")))
    return time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url", nargs="?", default="", help="sqlite:///NEW_FILE or a PostgreSQL server URL")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--inferred-share", type=float, default=0.5, help="share of waits inferred (marketing mail)")
    args = parser.parse_args()
    url, drop = fresh_database(args.database_url)
    try:
        settings = Settings(database_url=url, mail_from="hello@shoe.example", business_name="Shoe & Co",
                            business_address="12 High Street\nSpringfield", public_url="https://shop.example",
                            hold_days=7, _env_file=None)
        backend = make_url(url).get_backend_name()
        seeded = time.perf_counter()
        seed(url, args.customers, args.inferred_share, email=True, sku="CB-39")
        seeded = time.perf_counter() - seeded
        elapsed, report, queued = time_fan_out(url, settings, "CB-39")
        seed(url, args.customers, args.inferred_share, email=False, sku="CB-40")
        bare, bare_report, _ = time_fan_out(url, settings, "CB-40")
        floor = time_messages(min(args.customers, 2000)) * args.customers / min(args.customers, 2000)
        db = open_database(url)
        with db.session(write=True) as s:  # the run leaves no open wait behind
            left = s.scalar(select(func.count(StockWait.id)).where(StockWait.closed_at.is_(None)))
            s.execute(update(StockWait).values(closed_at=T0))
        db.dispose()
        print(f"backend: {backend}; {args.customers:,} waiting customers ({args.inferred_share:.0%} inferred); "
              f"seeded in {seeded:.1f} s")
        print(f"fan-out, e-mail queued:   {elapsed:6.2f} s  ({report.notified / elapsed:,.0f} notices/s; "
              f"{report.notified:,} queued, {report.held} held, {report.unreachable} unreachable; "
              f"outbox rows {queued:,}; open waits left {left})")
        print(f"fan-out, nobody e-mailed: {bare:6.2f} s  ({bare_report.unreachable:,} waits closed, "
              f"{bare_report.held} held: the bookkeeping alone)")
        print(f"render + build only:      {floor:6.2f} s  (the same number of messages, no database)")
        verdict = "met" if elapsed < GOAL_SECONDS else "NOT met"
        print(f"goal: queue {args.customers:,} notices in under {GOAL_SECONDS:.0f} s: {verdict} "
              f"({elapsed / GOAL_SECONDS:.2f} of the goal)")
    finally:
        drop()


if __name__ == "__main__":
    main()
