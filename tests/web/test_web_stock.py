"""The /holds page (holds by variant, waits, restocks, setting stock, telling now) and the profile's waits and holds."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlcount import counted

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import OutboxMessage, Product, ProductVariant
from ravingfans.db.models.stock import Hold, Restock, StockWait
from ravingfans.services import restock

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ClientAs = Callable[[str], TestClient]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def boots(db: Database, stock: int = 0) -> int:
    """Chelsea boots in size 39, brown (SKU CB-39); the variant's id."""
    with db.session(write=True) as s:
        product = Product(source="test", external_id="CB", name="Chelsea boots", created_at=T0,
                          variants=[ProductVariant(sku="CB-39", size="39", colour="brown", stock=stock, updated_at=T0)])
        s.add(product)
        s.flush()
        return product.variants[0].id


def held_for(db: Database, *customer_ids: int, units: int = 1) -> list[int]:
    """The customers wait for CB-39, it comes back with ``units``, and the fan-out holds them; the hold ids."""
    variant = boots(db)
    with db.session(write=True) as s:
        for customer_id in customer_ids:
            restock.add_wait(s, customer_id, variant, source="store")
    with db.session(write=True) as s:
        restock.set_stock(s, "CB-39", units, source="cli")
    with db.session(write=True) as s:
        restock.fan_out(s, Settings(database_url=str(db.engine.url), hold_days=7, _env_file=None))
    with db.session() as s:
        return list(s.scalars(select(Hold.id).order_by(Hold.id)))


def test_staff_see_holds_by_variant_and_release_one(client_as: ClientAs, db: Database, shop) -> None:  # noqa: ANN001
    [hold] = held_for(db, shop.grace, shop.linus)
    staff = client_as("staff")
    page = staff.get("/holds")
    assert page.status_code == 200
    row = re.search(rf'<tr id="hold-{hold}">.*?</tr>', page.text, re.S)
    assert row is not None and "Grace Hopper" in row.group(0) and "CB-39" in row.group(0)
    assert "+12025550199" in row.group(0)  # to call her
    with db.session() as s:
        expires = s.scalar(select(Hold.expires_at))
    assert expires.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d") in row.group(0)
    waiting = re.search(r'<table class="list" id="wait-list">.*?</table>', page.text, re.S)
    assert waiting is None  # both were told: nobody waits any more
    assert 'id="stock-form"' not in page.text  # setting stock is for managers
    done = staff.post(f"/holds/{hold}/release")
    assert (done.status_code, done.headers["location"]) == (303, "/holds?saved=released")
    after = staff.get(done.headers["location"])
    assert "Hold released" in after.text and f'id="hold-{hold}"' not in after.text
    again = staff.post(f"/holds/{hold}/release")
    assert again.headers["location"] == "/holds?saved=already"
    with db.session() as s:
        assert s.scalar(select(Hold.release_reason)) == "staff"


def test_managers_set_stock_then_tell_who_waits(client_as: ClientAs, db: Database, shop) -> None:  # noqa: ANN001
    variant = boots(db)
    with db.session(write=True) as s:
        restock.add_wait(s, shop.grace, variant, source="store")
        restock.add_wait(s, shop.linus, variant, source="profile", want_hold=False)
    staff, manager = client_as("staff"), client_as("manager")
    assert staff.post("/stock", data={"sku": "CB-39", "stock": "2"}).status_code == 403
    listed = manager.get("/holds").text
    assert re.search(r'<tr id="waiting-\d+">.*?CB-39.*?<td class="num">0</td>\s*<td class="num">2</td>', listed, re.S)
    bad = manager.post("/stock", data={"sku": "CB-39", "stock": "two"})
    assert bad.status_code == 422 and "whole number" in bad.text
    unknown = manager.post("/stock", data={"sku": "NOPE", "stock": "2"})
    assert unknown.status_code == 404 and "NOPE" in unknown.text
    done = manager.post("/stock", data={"sku": "CB-39", "stock": "2"})
    assert done.status_code == 303
    page = manager.get(done.headers["location"]).text
    assert "Stock of CB-39 set to 2 (was 0)" in page and "customers wait for it" in page
    assert "(1 restock to tell)" in page
    with db.session() as s:
        assert s.scalar(select(Restock.source)) == "web"
    told = manager.post("/restocks/notify")
    assert told.status_code == 303
    page = manager.get(told.headers["location"]).text
    assert "Told 2 customer(s) by e-mail and held 1 unit(s)" in page
    with db.session() as s:
        assert s.scalar(select(func.count(OutboxMessage.id))) == 2
        assert list(s.scalars(select(Hold.customer_id))) == [shop.grace]
    nothing = manager.post("/restocks/notify")
    assert "No restock was waiting" in manager.get(nothing.headers["location"]).text


def test_the_profile_shows_waits_and_holds_and_takes_a_new_wait(client_as: ClientAs, db: Database,
                                                                 shop) -> None:  # noqa: ANN001
    [hold] = held_for(db, shop.grace)
    with db.session(write=True) as s:
        p = Product(source="test", external_id="SC", name="Wool scarf", created_at=T0,
                    variants=[ProductVariant(sku="SC-RED", colour="red", stock=0, updated_at=T0)])
        s.add(p)
    staff = client_as("staff")
    profile = staff.get(f"/customers/{shop.grace}").text
    section = re.search(r'<section class="card" id="stock".*?</section>', profile, re.S)
    assert section is not None
    assert f'id="profile-hold-{hold}"' in section.group(0) and "Not waiting for anything" not in section.group(0)
    added = staff.post(f"/customers/{shop.grace}/waits", data={"sku": "SC-RED", "want_hold": "yes"})
    assert (added.status_code, added.headers["location"]) == (303, f"/customers/{shop.grace}#stock")
    section = re.search(r'<section class="card" id="stock".*?</section>',
                        staff.get(f"/customers/{shop.grace}").text, re.S).group(0)
    assert "Wool scarf" in section and "SC-RED" in section and "hold one when it comes" in section
    with db.session() as s:
        wait_id, source = s.execute(select(StockWait.id, StockWait.source).where(StockWait.closed_at.is_(None))).one()
    assert source == "profile"
    twice = staff.post(f"/customers/{shop.grace}/waits", data={"sku": "SC-RED"})
    assert twice.status_code == 303
    with db.session() as s:
        assert s.scalar(select(func.count(StockWait.id)).where(StockWait.closed_at.is_(None))) == 1
    with db.session(write=True) as s:
        restock.set_stock(s, "CB-39", 3, source="cli")  # one of the three is held: two are free to sell
    in_stock = staff.post(f"/customers/{shop.grace}/waits", data={"sku": "CB-39"})
    assert in_stock.status_code == 409 and "in stock (2 free to sell)" in in_stock.text
    cancelled = staff.post(f"/customers/{shop.grace}/waits/{wait_id}/cancel")
    assert cancelled.status_code == 303
    assert "Wool scarf" not in staff.get(f"/customers/{shop.grace}").text
    assert staff.post(f"/customers/{shop.ada}/waits/{wait_id}/cancel").status_code == 404  # not Ada's wait
    released = staff.post(f"/holds/{hold}/release", data={"back": "profile"})
    assert released.headers["location"] == f"/customers/{shop.grace}#stock"
    assert f'id="profile-hold-{hold}"' not in staff.get(f"/customers/{shop.grace}").text


def test_names_are_escaped_and_the_page_reads_a_fixed_number_of_times(client_as: ClientAs, db: Database,
                                                                       shop) -> None:  # noqa: ANN001
    held_for(db, shop.hostile, shop.grace, shop.linus, units=3)
    staff = client_as("staff")
    with counted(db) as few:
        page = staff.get("/holds")
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    with db.session(write=True) as s:
        for n in range(6):
            p = Product(source="test", external_id=f"P{n}", name=f"Thing {n}", created_at=T0,
                        variants=[ProductVariant(sku=f"T-{n}", stock=0, updated_at=T0)])
            s.add(p)
            s.flush()
            restock.add_wait(s, shop.ada, p.variants[0].id, source="store")
    with counted(db) as many:
        staff.get("/holds")
    assert len(many) == len(few)


@pytest.mark.browser
def test_the_holds_page_and_the_profile_section_are_accessible(live_server, db: Database,  # noqa: ANN001
                                                               shop) -> None:  # noqa: ANN001
    playwright_api = pytest.importorskip("playwright.sync_api")
    from signin import sign_in_page
    from test_web_accessibility import CHROMIUM, serious_violations

    if not shutil.which(CHROMIUM):
        pytest.skip("needs Chromium at /usr/bin/chromium")
    held_for(db, shop.ada, shop.linus)  # Ada: her profile passes the main check
    with db.session(write=True) as s:
        p = Product(source="test", external_id="SC", name="Wool scarf", created_at=T0,
                    variants=[ProductVariant(sku="SC-RED", colour="red", stock=0, updated_at=T0)])
        s.add(p)
        s.flush()
        restock.add_wait(s, shop.ada, p.variants[0].id, source="store")
    report = {}
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_context(base_url=live_server.url, bypass_csp=True).new_page()
            tab.goto("/login")
            sign_in_page(tab)
            for path in ("/holds", f"/customers/{shop.ada}"):
                tab.goto(path)
                assert tab.locator("#hold-list, #stock").count() >= 1
                report[path] = serious_violations(tab)
        finally:
            browser.close()
    assert report == {"/holds": [], f"/customers/{shop.ada}": []}
