"""Erasing a customer from the profile: owners only, a confirm page, the customer's number typed, then gone."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from ravingfans.db import Database
from ravingfans.db.models import Customer, Note, Order

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ClientAs = Callable[[str], TestClient]


def erased(db: Database, customer_id: int) -> bool:
    """Whether the customer is erased."""
    with db.session() as s:
        customer = s.get(Customer, customer_id)
        return customer is not None and customer.erased_at is not None


def test_owner_sees_the_section_then_the_plan_then_erases(client: TestClient, shop: Any, db: Database) -> None:
    profile = client.get(f"/customers/{shop.ada}").text
    assert 'id="erase-title">Erase this customer</h2>' in profile
    assert f'href="/customers/{shop.ada}/erase"' in profile
    page = client.get(f"/customers/{shop.ada}/erase")
    assert page.status_code == 200 and "no-store" in page.headers.get("cache-control", "")
    assert "<h1>Erase Ada Lovelace</h1>" in page.text
    assert "1 note and 2 consent records" in page.text
    assert "2 orders (€160.50 net)" in page.text and f"Erased customer #{shop.ada}" in page.text
    assert "1 moment of truth" in page.text
    assert re.search(r'<form[^>]*action="/customers/%d/erase"[^>]*>\s*<input type="hidden" name="csrf_token"'
                     % shop.ada, page.text)
    assert 'name="confirm"' in page.text and "required" in page.text

    done = client.post(f"/customers/{shop.ada}/erase", data={"confirm": str(shop.ada)})
    assert done.status_code == 303 and done.headers["location"] == "/customers?saved=erased"
    assert erased(db, shop.ada)
    listing = client.get(done.headers["location"]).text
    assert "Customer erased" in listing and "Lovelace" not in listing and "Hopper" in listing
    gone = client.get(f"/customers/{shop.ada}")
    assert gone.status_code == 404 and "was erased" in gone.text
    assert client.get(f"/customers/{shop.ada}/erase").status_code == 409
    again = client.post(f"/customers/{shop.ada}/erase", data={"confirm": str(shop.ada)})
    assert again.status_code == 409 and "already erased" in again.text
    for query in ("Lovelace", "ada@example.com"):
        assert f'href="/customers/{shop.ada}"' not in client.get("/search", params={"q": query}).text
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Note).where(Note.customer_id == shop.ada)) == 0
        assert s.scalar(select(func.count()).select_from(Order).where(Order.customer_id == shop.ada)) == 2


def test_a_wrong_or_missing_number_erases_nothing(client: TestClient, shop: Any, db: Database) -> None:
    for sent in ({"confirm": str(shop.grace)}, {"confirm": ""}, {}):
        refused = client.post(f"/customers/{shop.ada}/erase", data=sent)
        assert refused.status_code == 422, sent
        assert "type the customer’s number" in refused.text or "type the customer&#39;s number" in refused.text
    assert not erased(db, shop.ada)


def test_managers_and_staff_may_not_erase_or_see_how(client_as: ClientAs, shop: Any, db: Database) -> None:
    for role in ("staff", "manager"):
        other = client_as(role)
        assert "Erase this customer" not in other.get(f"/customers/{shop.ada}").text
        assert other.get(f"/customers/{shop.ada}/erase").status_code == 403
        assert other.post(f"/customers/{shop.ada}/erase", data={"confirm": str(shop.ada)}).status_code == 403
    assert not erased(db, shop.ada)


def test_an_erase_without_the_csrf_token_is_refused(client: TestClient, shop: Any, db: Database) -> None:
    token = client.headers.pop("x-csrf-token")
    form = {"confirm": str(shop.ada)}
    assert client.post(f"/customers/{shop.ada}/erase", data=form).status_code == 403
    assert client.post(f"/customers/{shop.ada}/erase", data=form | {"csrf_token": "forged"}).status_code == 403
    assert not erased(db, shop.ada)
    assert client.post(f"/customers/{shop.ada}/erase", data=form | {"csrf_token": token}).status_code == 303
    assert erased(db, shop.ada)


def test_an_unknown_customer_is_a_404(client: TestClient, shop: Any) -> None:
    assert client.get("/customers/999999/erase").status_code == 404
    assert client.post("/customers/999999/erase", data={"confirm": "999999"}).status_code == 404


def test_the_home_count_drops_by_one(client: TestClient, shop: Any) -> None:
    def customers_on_home() -> int:
        found = re.search(r'<span class="stat"[^>]*>([\d,]+)</span>\s*<span[^>]*>customers', client.get("/").text)
        assert found is not None
        return int(found.group(1).replace(",", ""))

    before = customers_on_home()
    assert client.post(f"/customers/{shop.ada}/erase", data={"confirm": f"#{shop.ada}"}).status_code == 303
    assert customers_on_home() == before - 1
