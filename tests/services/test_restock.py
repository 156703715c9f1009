"""Back in stock: waits, restocks from every place stock is written, the fan-out told once, holds and their end."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import func, select, update
from sqlcount import counted

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mail"))  # the SMTP test server lives with the mail tests
from smtp_sink import SmtpServer, running_smtp  # noqa: E402

from ravingfans.clock import fixed  # noqa: E402
from ravingfans.config import Settings  # noqa: E402
from ravingfans.db import Database  # noqa: E402
from ravingfans.db.models import Customer, Order, OrderLine, OutboxMessage, Product, ProductVariant  # noqa: E402
from ravingfans.db.models.stock import Hold, Restock, StockWait  # noqa: E402
from ravingfans.errors import Conflict, NotFound, ValidationFailed  # noqa: E402
from ravingfans.ingest.importer import ImportOptions, import_file  # noqa: E402
from ravingfans.mail import send_pending  # noqa: E402
from ravingfans.services import erasure, orders, products, restock  # noqa: E402

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SRC = Path(__file__).resolve().parents[2] / "src" / "ravingfans"
SECRET = "a test secret that is long enough for hmac"


def day(n: float) -> datetime:
    """T0 plus n days."""
    return T0 + timedelta(days=n)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) for this test."""
    with running_smtp() as server:
        yield server


def shop_settings(database_url: str, smtp: SmtpServer | None = None, *, hold_days: int = 3) -> Settings:
    """Settings with a business address (marketing mail needs it), holds of ``hold_days``, and the test SMTP server."""
    extra = {"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_timeout_seconds": 5} if smtp else {}
    return Settings(database_url=database_url, mail_from="hello@shoe.example", business_name="Shoe & Co",
                    business_address="12 High Street\nSpringfield", public_url="https://shop.example",
                    hold_days=hold_days, _env_file=None, **extra)


@pytest.fixture
def shop(database_url: str) -> Settings:
    """Shop settings with 3-day holds, no SMTP server."""
    return shop_settings(database_url)


def customer(db: Database, first: str, *, email: str | None = "", consent: bool | None = None,
             language: str | None = None) -> int:
    """A customer (e-mail ``first@example.com`` unless given; None for none); their id."""
    with db.session(write=True) as s:
        row = Customer(first_name=first, last_name="Test", email=f"{first.lower()}@example.com" if email == "" else email,
                       email_consent=consent, language=language, created_at=T0, updated_at=T0)
        s.add(row)
        s.flush()
        return row.id


def product(db: Database, name: str = "Chelsea boots", sizes: tuple[str | None, ...] = ("38", "39"),
            stock: int = 0) -> dict[str | None, int]:
    """A product with one variant per size (SKU ``CB-<size>``), all at ``stock``; variant ids by size."""
    with db.session(write=True) as s:
        row = Product(source="test", external_id=name, name=name, created_at=T0, variants=[
            ProductVariant(sku=f"CB-{size or 'X'}", size=size, colour="brown", stock=stock, updated_at=T0)
            for size in sizes])
        s.add(row)
        s.flush()
        return {v.size: v.id for v in row.variants}


def wait(db: Database, customer_id: int, variant_id: int, *, source: str = "store", at: datetime = T0,
         want_hold: bool = True) -> int:
    """Add a wait in its own transaction; its id."""
    with db.session(write=True) as s:
        return restock.add_wait(s, customer_id, variant_id, source=source, want_hold=want_hold, clock=fixed(at)).wait_id


def set_stock(db: Database, sku: str, units: int, at: datetime = T0) -> int | None:
    """Set stock as a page or the CLI does; the restock's id, if one was made."""
    with db.session(write=True) as s:
        return restock.set_stock(s, sku, units, source="cli", clock=fixed(at))[2]


def fan_out(db: Database, settings: Settings, at: datetime = T0) -> restock.FanOutReport:
    """One fan-out in its own write transaction."""
    with db.session(write=True) as s:
        return restock.fan_out(s, settings, clock=fixed(at))


def bought(db: Database, customer_id: int, variant_id: int, at: datetime = T0, *, cancelled: bool = False) -> None:
    """An order of one unit of the variant."""
    with db.session(write=True) as s:
        number = s.scalar(select(func.count(Order.id))) or 0
        row = Order(source="till", external_id=f"T-{number + 1}", customer_id=customer_id, placed_at=at,
                    total=Decimal("100.00"), cancelled_at=at if cancelled else None)
        row.lines.append(OrderLine(line_no=1, kind="sale", variant_id=variant_id, quantity=1,
                                   unit_price=Decimal("100.00"), amount=Decimal("100.00")))
        s.add(row)


def outbox(db: Database) -> list[OutboxMessage]:
    """Every queued message, oldest first."""
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def open_holds(db: Database) -> list[restock.HoldRow]:
    """The open holds."""
    with db.session() as s:
        return restock.list_holds(s)


def import_products(db: Database, settings: Settings, tmp_path: Path, rows: list[tuple[str, str, int]],
                    at: datetime) -> None:
    """Import a generic products CSV: (sku, size, stock) rows of the product "Chelsea boots"."""
    path = tmp_path / f"products-{at:%Y%m%d%H%M}.csv"
    lines = ["sku,product_id,name,size,colour,price,stock"]
    lines += [f"{sku},CB,Chelsea boots,{size},brown,120.00,{units}" for sku, size, units in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_file(db.engine, settings, path, ImportOptions(kind="products"), clock=fixed(at))


# ----------------------------------------------------------------------------------------------
# The walk: wait -> restock by import -> fan-out -> real SMTP -> hold -> expiry -> next restock
# ----------------------------------------------------------------------------------------------


def test_weeks_of_business_from_a_wait_to_the_next_restock(db: Database, database_url: str, smtp: SmtpServer,
                                                          tmp_path: Path) -> None:
    settings = shop_settings(database_url, smtp, hold_days=3)
    import_products(db, settings, tmp_path, [("CB-39", "39", 0), ("CB-40", "40", 4)], at=day(0))
    with db.session() as s:
        size39 = restock.find_variant(s, "CB-39").id
    ana, ben = customer(db, "Ana"), customer(db, "Ben", language="es")
    wait(db, ana, size39, at=day(1))  # asked in store, on Tuesday
    wait(db, ben, size39, source="profile", at=day(2))

    import_products(db, settings, tmp_path, [("CB-39", "39", 2), ("CB-40", "40", 4)], at=day(7))  # the shipment
    with db.session() as s:
        restocks = list(s.scalars(select(Restock)))
    assert [(r.variant_id, r.stock_before, r.stock_after, r.source) for r in restocks] == [(size39, 0, 2, "import")]

    report = fan_out(db, settings, at=day(7.1))
    assert (report.restocks, report.notified, report.held, report.unreachable) == (1, 2, 2, 0)
    sent = send_pending(db, settings, clock=fixed(day(7.2)))
    assert sent.sent == 2 and sent.error is None
    mails = {m.rcpt_tos[0]: m.parsed() for m in smtp.sink.messages}
    assert set(mails) == {"ana@example.com", "ben@example.com"}
    english = mails["ana@example.com"].get_body(("plain",)).get_content()
    assert "Chelsea boots you asked us about back in stock" in english and "Size 39, brown (item CB-39)" in english
    assert "holding one for you until March 12, 2026" in english
    assert "Unsubscribe" not in english  # they asked: a service message, no marketing footer
    assert "Le guardamos uno hasta el 12 de marzo de 2026" in mails["ben@example.com"].get_body(("plain",)).get_content()
    assert str(mails["ana@example.com"]["Subject"]) == "Back in stock: the Chelsea boots you asked about"

    held = open_holds(db)
    assert sorted((h.customer_id, h.sku, h.expires_at) for h in held) == [(ana, "CB-39", day(10.1)),
                                                                          (ben, "CB-39", day(10.1))]
    with db.session(write=True) as s:
        assert restock.expire_holds(s, clock=fixed(day(10))) == 0  # not yet
    with db.session(write=True) as s:
        assert restock.expire_holds(s, clock=fixed(day(10.2))) == 2
    assert open_holds(db) == []
    with db.session() as s:
        assert {h.release_reason for h in s.scalars(select(Hold))} == {"expired"}

    import_products(db, settings, tmp_path, [("CB-39", "39", 0), ("CB-40", "40", 4)], at=day(12))  # sold out
    cleo = customer(db, "Cleo")
    wait(db, cleo, size39, at=day(13))
    import_products(db, settings, tmp_path, [("CB-39", "39", 1), ("CB-40", "40", 4)], at=day(20))
    report = fan_out(db, settings, at=day(20.1))
    assert (report.restocks, report.notified, report.held) == (1, 1, 1)
    assert send_pending(db, settings, clock=fixed(day(20.2))).sent == 1
    assert [m.rcpt_tos for m in smtp.sink.messages][2:] == [["cleo@example.com"]]  # only the new wait
    assert [h.customer_id for h in open_holds(db)] == [cleo]


# ----------------------------------------------------------------------------------------------
# Once per restock
# ----------------------------------------------------------------------------------------------


def test_a_second_fan_out_tells_nobody_again(db: Database, shop: Settings) -> None:
    size39 = product(db)["39"]
    people = [customer(db, name) for name in ("Ana", "Ben", "Cleo")]
    for person in people:
        wait(db, person, size39)
    made = set_stock(db, "CB-39", 5)
    assert made is not None
    first = fan_out(db, shop, at=day(1))
    again = fan_out(db, shop, at=day(2))
    assert (first.restocks, first.notified) == (1, 3) and (again.restocks, again.notified) == (0, 0)
    messages = outbox(db)
    assert sorted(m.key for m in messages) == sorted(f"restock:{made}:wait:{w}" for w in _wait_ids(db))
    assert [m.purpose for m in messages] == ["service"] * 3


def _wait_ids(db: Database) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(StockWait.id)))


def test_the_outbox_key_stops_a_second_notice_even_if_the_restock_is_handled_again(db: Database,
                                                                                   shop: Settings) -> None:
    size39 = product(db)["39"]
    for name in ("Ana", "Ben"):
        wait(db, customer(db, name), size39)
    set_stock(db, "CB-39", 1)
    fan_out(db, shop, at=day(1))
    with db.session(write=True) as s:  # as if the bookkeeping were lost: the restock pending, the waits open again
        s.execute(update(Restock).values(fanned_out_at=None, notified=0, held=0))
        s.execute(update(StockWait).values(closed_at=None, closed_reason=None, notified_at=None))
    again = fan_out(db, shop, at=day(2))
    assert again.notified == 2  # counted as told ...
    assert len(outbox(db)) == 2  # ... but no second e-mail: the key restock:<r>:wait:<w> is taken
    with db.session() as s:
        assert s.scalar(select(func.count(Hold.id))) == 1  # and no second hold: (restock, customer) is unique


def test_two_fan_outs_racing_send_one_notice_per_wait(db: Database, shop: Settings) -> None:
    variants = product(db, sizes=("38", "39", "40"))
    people = [customer(db, f"P{n}") for n in range(12)]
    for n, person in enumerate(people):
        wait(db, person, variants[("38", "39", "40")[n % 3]])
    for sku in ("CB-38", "CB-39", "CB-40"):
        set_stock(db, sku, 2)
    start = threading.Barrier(2)
    reports: list[restock.FanOutReport] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            with db.session(write=True) as s:
                reports.append(restock.fan_out(s, shop, clock=fixed(day(1))))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert sum(r.notified for r in reports) == 12 and sum(r.restocks for r in reports) == 3
    messages = outbox(db)
    assert len(messages) == 12 and len({m.customer_id for m in messages}) == 12
    with db.session() as s:
        assert s.scalar(select(func.count(Hold.id))) == 6  # two units of each size came in
        assert set(s.scalars(select(StockWait.closed_reason))) == {"notified"}


# ----------------------------------------------------------------------------------------------
# Who is told, who is held
# ----------------------------------------------------------------------------------------------


def test_inferred_waits_need_consent_and_get_no_hold(db: Database, shop: Settings) -> None:
    variants = product(db)
    keen, quiet, unknown = customer(db, "Keen", consent=True), customer(db, "Quiet", consent=False), \
        customer(db, "Unknown", consent=None)
    for person in (keen, quiet, unknown):
        bought(db, person, variants["39"], at=day(-200))
    with db.session(write=True) as s:
        assert restock.infer_waits(s, clock=fixed(day(0))) == 3
    with db.session() as s:
        rows = restock.list_waits(s)
    assert {(w.customer_id, w.source, w.want_hold) for w in rows} == {(keen, "inferred", False),
                                                                       (quiet, "inferred", False),
                                                                       (unknown, "inferred", False)}
    set_stock(db, "CB-39", 3, at=day(1))
    report = fan_out(db, shop, at=day(1))
    assert (report.notified, report.unreachable, report.held) == (1, 2, 0)
    [message] = outbox(db)
    assert (message.customer_id, message.purpose) == (keen, "marketing")
    assert "List-Unsubscribe" in message.raw and "Unsubscribe" in message.raw
    assert "bought from us before" in message.raw
    with db.session() as s:
        closed = dict(s.execute(select(StockWait.customer_id, StockWait.closed_reason)).all())
    assert closed == {keen: "notified", quiet: "unreachable", unknown: "unreachable"}


def test_inferred_waits_stay_open_until_marketing_mail_may_go(db: Database, database_url: str) -> None:
    settings = shop_settings(database_url).model_copy(update={"business_address": ""})
    size39 = product(db)["39"]
    keen, asked = customer(db, "Keen", consent=True), customer(db, "Asked")
    wait(db, keen, size39, source="inferred")
    wait(db, asked, size39)
    set_stock(db, "CB-39", 2)
    report = fan_out(db, settings, at=day(1))
    assert (report.notified, report.deferred) == (1, 1) and "postal address" in report.summary()
    assert [m.customer_id for m in outbox(db)] == [asked]  # the one who asked is told all the same
    with db.session() as s:
        assert [w.customer_id for w in restock.list_waits(s)] == [keen]  # told at the next restock, address set


def test_infer_waits_reads_size_and_history_and_never_doubles(db: Database, shop: Settings) -> None:
    variants = product(db, sizes=("38", "39"))
    with db.session(write=True) as s:
        s.execute(update(ProductVariant).where(ProductVariant.id == variants["38"]).values(stock=4))
    plain = product(db, name="Scarf", sizes=(None,))[None]
    other_size, same_size, cancelled, gone, scarf = (customer(db, n) for n in ("Other", "Same", "Cancel", "Gone",
                                                                              "Scarf"))
    bought(db, other_size, variants["38"])  # 38 is in stock and nobody waits for it; they bought 38, not 39
    bought(db, same_size, variants["39"])
    bought(db, cancelled, variants["39"], cancelled=True)
    bought(db, gone, variants["39"])
    bought(db, scarf, plain)  # a product without sizes: the variant itself
    with db.session(write=True) as s:
        erasure.erase_customer(s, gone, by_user_id=None, secret=SECRET, clock=fixed(day(0)))
    with db.session(write=True) as s:
        assert restock.infer_waits(s, clock=fixed(day(1))) == 2
    with db.session(write=True) as s:
        assert restock.infer_waits(s, clock=fixed(day(2))) == 0  # their open waits are there already
    with db.session() as s:
        assert {(w.customer_id, w.sku) for w in restock.list_waits(s)} == {(same_size, "CB-39"), (scarf, "CB-X")}
    set_stock(db, "CB-39", 1, at=day(3))
    fan_out(db, shop, at=day(3))
    set_stock(db, "CB-39", 0, at=day(4))
    with db.session(write=True) as s:  # told once for that purchase: no new wait until they buy again
        assert restock.infer_waits(s, clock=fixed(day(5))) == 0
    bought(db, same_size, variants["39"], at=day(6))
    with db.session(write=True) as s:
        assert restock.infer_waits(s, product_id=products.get_product(s, 1).id, clock=fixed(day(7))) == 1


def test_holds_never_outnumber_the_units_that_came_in(db: Database, shop: Settings) -> None:
    size39 = product(db)["39"]
    people = [customer(db, f"W{n}") for n in range(5)]
    for n, person in enumerate(people):
        wait(db, person, size39, at=day(n / 10), want_hold=n != 0)  # the first asked for no hold
    set_stock(db, "CB-39", 2, at=day(1))
    report = fan_out(db, shop, at=day(1))
    assert (report.notified, report.held) == (5, 2)
    assert sorted(h.customer_id for h in open_holds(db)) == people[1:3]  # first come, first held
    with db.session() as s:
        assert s.scalar(select(Restock.held)) == 2 and s.scalar(select(Restock.notified)) == 5


def test_no_holds_when_the_business_holds_nothing(db: Database, database_url: str) -> None:
    settings = shop_settings(database_url, hold_days=0)
    size39 = product(db)["39"]
    wait(db, customer(db, "Ana"), size39)
    set_stock(db, "CB-39", 3)
    report = fan_out(db, settings, at=day(1))
    assert (report.notified, report.held) == (1, 0)
    assert "holding" not in outbox(db)[0].raw and "come by soon" in outbox(db)[0].raw


def test_erased_and_unreachable_customers_are_skipped(db: Database, shop: Settings) -> None:
    size39 = product(db)["39"]
    gone, no_mail, ok = customer(db, "Gone"), customer(db, "Nomail", email=None), customer(db, "Ok")
    for person in (gone, no_mail, ok):
        wait(db, person, size39)
    with db.session(write=True) as s:  # erased after asking (erasure deletes waits; a tombstone must not be told)
        s.execute(update(Customer).where(Customer.id == gone).values(erased_at=day(0), email=None, first_name=None))
    with db.session(write=True) as s, pytest.raises(NotFound):
        restock.add_wait(s, gone, size39, source="store", clock=fixed(day(0)))
    set_stock(db, "CB-39", 5, at=day(1))
    report = fan_out(db, shop, at=day(1))
    assert (report.notified, report.unreachable, report.cancelled, report.held) == (1, 1, 1, 2)
    assert [m.customer_id for m in outbox(db)] == [ok]
    assert sorted(h.customer_id for h in open_holds(db)) == sorted([no_mail, ok])  # staff can call the one without


def test_a_purchase_releases_the_hold_and_closes_the_wait(db: Database, shop: Settings) -> None:
    variants = product(db)
    ana, ben = customer(db, "Ana"), customer(db, "Ben")
    wait(db, ana, variants["39"])
    wait(db, ben, variants["39"])
    set_stock(db, "CB-39", 1, at=day(1))
    fan_out(db, shop, at=day(1))
    [hold] = open_holds(db)
    assert hold.customer_id == ana
    with db.session(write=True) as s:  # Ana buys it at the till, recorded through the API
        orders.create_order(s, orders.OrderCreate.model_validate({
            "customer_id": ana, "placed_at": day(2).isoformat(),
            "lines": [{"sku": "CB-39", "unit_price": "120.00"}]}), clock=fixed(day(2)))
    assert open_holds(db) == []
    with db.session() as s:
        assert s.scalar(select(Hold.release_reason)) == "purchased"
    wait(db, ben, variants["38"], at=day(3))  # Ben waits for the 38 too, then buys one elsewhere in the shop
    with db.session(write=True) as s:
        orders.create_order(s, orders.OrderCreate.model_validate({
            "customer_id": ben, "placed_at": day(2.5).isoformat(),  # recorded late, bought before he asked
            "lines": [{"sku": "CB-38", "unit_price": "120.00"}]}), clock=fixed(day(4)))
    with db.session() as s:
        assert [w.sku for w in restock.list_waits(s, customer_id=ben)] == ["CB-38"]
    with db.session(write=True) as s:
        assert restock.release_holds_on_purchase(s, ben, [variants["38"]], clock=fixed(day(5))) == 0
    with db.session() as s:
        assert restock.list_waits(s, customer_id=ben) == []
        assert s.scalar(select(StockWait.closed_reason).where(StockWait.customer_id == ben,
                                                              StockWait.variant_id == variants["38"])) == "purchased"


def test_an_orders_import_releases_holds_of_what_was_bought(db: Database, shop: Settings, tmp_path: Path) -> None:
    variants = product(db)
    with db.session(write=True) as s:
        s.execute(update(Customer).values(email=None))
    ana = customer(db, "Ana")
    cleo = customer(db, "Cleo")
    wait(db, ana, variants["39"])
    wait(db, cleo, variants["39"])
    wait(db, cleo, variants["38"])
    set_stock(db, "CB-39", 2, at=day(1))
    fan_out(db, shop, at=day(1))
    assert len(open_holds(db)) == 2
    path = tmp_path / "orders.csv"
    path.write_text("order_id,ordered_at,email,first_name,sku,quantity,unit_price\n"
                    "R-1,2026-03-04 10:00,ana@example.com,Ana,CB-39,1,120.00\n"
                    "R-2,2026-02-01 10:00,cleo@example.com,Cleo,CB-39,1,120.00\n"  # before the hold: keeps it
                    "R-3,2026-03-04 11:00,cleo@example.com,Cleo,CB-38,1,120.00\n", encoding="utf-8")
    import_file(db.engine, shop, path, ImportOptions(kind="orders"), clock=fixed(day(3)))
    assert [h.customer_id for h in open_holds(db)] == [cleo]
    with db.session() as s:
        assert s.scalar(select(Hold.release_reason).where(Hold.customer_id == ana)) == "purchased"
        assert restock.list_waits(s) == []  # Cleo's wait for the 38 was closed by her purchase
        assert s.scalar(select(StockWait.closed_reason).where(StockWait.variant_id == variants["38"])) == "purchased"


# ----------------------------------------------------------------------------------------------
# Restocks: when stock rises
# ----------------------------------------------------------------------------------------------


def test_a_restock_is_a_rise_from_nothing_for_a_variant_someone_waits_for(db: Database) -> None:
    variants = product(db)
    with db.session(write=True) as s:
        v = restock.find_variant(s, "CB-39")
        nobody = products.update_variant(s, v.product_id, v.id, products.VariantUpdate(stock=3), clock=fixed(T0))
        assert nobody.stock == 3
        products.update_variant(s, v.product_id, v.id, products.VariantUpdate(stock=0), clock=fixed(T0))
    assert _restocks(db) == []  # nobody waited
    wait(db, customer(db, "Ana"), variants["39"])
    with db.session(write=True) as s:
        products.update_variant(s, 1, variants["39"], products.VariantUpdate(price="99.00"), clock=fixed(T0))
        products.update_variant(s, 1, variants["39"], products.VariantUpdate(stock=-1), clock=fixed(T0))
    assert _restocks(db) == []  # a price change, and a fall, are not restocks
    with db.session(write=True) as s:
        products.update_variant(s, 1, variants["39"], products.VariantUpdate(stock=2), clock=fixed(day(1)))
        products.update_variant(s, 1, variants["39"], products.VariantUpdate(stock=6), clock=fixed(day(1)))
    assert _restocks(db) == [(variants["39"], -1, 2, "api")]  # 2 -> 6 is more of what is already there
    with db.session(write=True) as s, pytest.raises(ValidationFailed):
        restock.record_stock_change(s, variants["39"], 0, 1, source="carrier pigeon")


def _restocks(db: Database) -> list[tuple[int, int, int, str]]:
    with db.session() as s:
        return [(r.variant_id, r.stock_before, r.stock_after, r.source) for r in s.scalars(select(Restock))]


def test_a_variant_sold_out_again_before_the_fan_out_keeps_its_waits(db: Database, shop: Settings) -> None:
    size39 = product(db)["39"]
    ana = customer(db, "Ana")
    wait(db, ana, size39)
    set_stock(db, "CB-39", 1)
    set_stock(db, "CB-39", 0)  # sold over the counter before anyone was told
    report = fan_out(db, shop, at=day(1))
    assert (report.restocks, report.sold_out_again, report.notified) == (1, 1, 0)
    with db.session() as s:
        assert [w.customer_id for w in restock.list_waits(s)] == [ana]


def test_a_products_import_finds_restocks_in_one_query_whatever_its_size(db: Database, shop: Settings,
                                                                        tmp_path: Path) -> None:
    def statements_for(rows: int, stamp: datetime) -> int:
        with counted(db) as seen:
            import_products(db, shop, tmp_path, [(f"CB-{n}", str(n), 0) for n in range(rows)], at=stamp)
        return len(seen)

    small, large = statements_for(5, day(0)), statements_for(60, day(1))
    assert small == large  # no statement per row, restock check included
    waiting = customer(db, "Ana")
    for n in range(0, 60, 2):
        with db.session() as s:
            variant_id = restock.find_variant(s, f"CB-{n}").id
        wait(db, waiting, variant_id)
    import_products(db, shop, tmp_path, [(f"CB-{n}", str(n), 1 if n < 30 else 0) for n in range(60)], at=day(2))
    assert len(_restocks(db)) == 15  # rose, and awaited: 0, 2, ..., 28
    import_products(db, shop, tmp_path, [(f"CB-{n}", str(n), 1 if n < 30 else 0) for n in range(60)], at=day(3))
    assert len(_restocks(db)) == 15  # the same file again changes nothing


def test_fan_out_works_in_batches_not_a_round_trip_per_wait(db: Database, shop: Settings) -> None:
    def stock_statements(waiters: int) -> int:
        variant = product(db, name=f"Boot {waiters}", sizes=(str(waiters),))[str(waiters)]
        for n in range(waiters):
            wait(db, customer(db, f"B{waiters}x{n}", email=None), variant)  # no e-mail: the outbox is not asked
        with db.session(write=True) as s:
            restock.set_stock(s, f"CB-{waiters}", waiters, source="cli", clock=fixed(T0))
        with counted(db) as seen, db.session(write=True) as s:
            report = restock.fan_out(s, shop, clock=fixed(day(1)), batch_size=100)
        assert report.held == waiters
        return len(seen)

    assert stock_statements(3) == stock_statements(40)


# ----------------------------------------------------------------------------------------------
# Waits
# ----------------------------------------------------------------------------------------------


def test_a_customer_waits_once_per_variant_and_only_for_what_is_out(db: Database) -> None:
    variants = product(db)
    ana = customer(db, "Ana")
    first = wait(db, ana, variants["39"])
    with db.session(write=True) as s:
        again = restock.add_wait(s, ana, variants["39"], source="profile", clock=fixed(day(1)))
    assert (again.wait_id, again.created) == (first, False)
    with db.session(write=True) as s:
        s.execute(update(ProductVariant).where(ProductVariant.id == variants["38"]).values(stock=2))
    with db.session(write=True) as s, pytest.raises(Conflict, match="in stock"):
        restock.add_wait(s, ana, variants["38"], source="store", clock=fixed(day(1)))
    with db.session(write=True) as s, pytest.raises(ValidationFailed):
        restock.add_wait(s, ana, variants["39"], source="pigeon", clock=fixed(day(1)))
    with db.session(write=True) as s:
        assert restock.cancel_wait(s, first, clock=fixed(day(2))) is True
        assert restock.cancel_wait(s, first, clock=fixed(day(2))) is False
    with db.session() as s:
        assert restock.list_waits(s) == []
        assert restock.find_customer(s, "ANA@example.com").id == ana
        assert restock.find_customer(s, f"#{ana}").id == ana
        with pytest.raises(NotFound):
            restock.find_variant(s, "NOPE")
        with pytest.raises(ValidationFailed):
            restock.find_customer(s, "Ana")


def test_staff_release_a_hold_once(db: Database, shop: Settings) -> None:
    size39 = product(db)["39"]
    wait(db, customer(db, "Ana"), size39)
    set_stock(db, "CB-39", 1)
    fan_out(db, shop)
    [hold] = open_holds(db)
    with db.session(write=True) as s:
        assert restock.release_hold(s, hold.id, clock=fixed(day(1))) is True
        assert restock.release_hold(s, hold.id, clock=fixed(day(1))) is False
        with pytest.raises(NotFound):
            restock.release_hold(s, hold.id + 100)
    with db.session() as s:
        [row] = restock.list_holds(s, open_only=False)
    assert (row.release_reason, row.released_at) == ("staff", day(1))


def test_the_back_in_stock_mail_is_translated_into_spanish() -> None:
    with (SRC / "locale" / "es" / "LC_MESSAGES" / "stock.po").open("rb") as handle:
        catalog = read_po(handle, locale="es")
    wanted = set()
    for filename, _line, message, _comments, _context in extract_from_dir(
            SRC / "mail" / "templates", method_map=[("**.html", "jinja2"), ("**.txt", "jinja2")],
            options_map={"**": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}):
        if filename.startswith("back_in_stock"):
            wanted.add(message if isinstance(message, str) else message[0])
    assert len(wanted) >= 10
    with (SRC / "locale" / "es" / "LC_MESSAGES" / "mail.po").open("rb") as handle:
        shared = read_po(handle, locale="es")
    missing = sorted(m for m in wanted if not any(c.get(m) and c.get(m).string for c in (catalog, shared)))
    assert missing == []


def test_holds_and_waits_list_their_customer_and_variant_in_words(db: Database, shop: Settings) -> None:
    size39 = product(db)["39"]
    ana, gone = customer(db, "Ana"), customer(db, "Bea")
    for who in (ana, gone):
        wait(db, who, size39)
    with db.session() as s:
        assert {(w.customer_name, w.variant, w.want_hold) for w in restock.list_waits(s)} == {
            ("Ana Test", "size 39, brown", True), ("Bea Test", "size 39, brown", True)}
    set_stock(db, "CB-39", 2)
    fan_out(db, shop)
    with db.session(write=True) as s:
        erasure.erase_customer(s, gone, by_user_id=None, secret=SECRET, clock=fixed(day(1)))
    with db.session() as s:
        rows = restock.list_holds(s, open_only=False)
    assert [(r.customer_id, r.customer_name, r.customer_phone, r.sku, r.variant, r.quantity) for r in rows] == [
        (ana, "Ana Test", None, "CB-39", "size 39, brown", 1)]  # an erased customer's hold goes with them
