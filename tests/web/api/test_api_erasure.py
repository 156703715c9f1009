"""API: DELETE /api/v1/customers/{id} erases a customer (owners only): 204, then 404 to read and 409 to erase again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ravingfans.db import Database
from ravingfans.db.models import Customer, Order
from apihelp import API, assert_problem


def test_an_owner_erases_and_the_customer_is_gone_from_the_api(owner: Any, shop: Any, db: Database) -> None:
    erased = owner.delete(f"{API}/customers/{shop.ada}")
    assert erased.status_code == 204 and erased.content == b""
    body = assert_problem(owner.get(f"{API}/customers/{shop.ada}"), 404)
    assert "was erased" in body["detail"]
    assert_problem(owner.patch(f"{API}/customers/{shop.ada}", json={"city": "Paris"}), 404)
    listed = [c["id"] for c in owner.get(f"{API}/customers").json()["items"]]
    assert shop.ada not in listed and shop.grace in listed
    assert owner.get(f"{API}/customers", params={"q": "Lovelace"}).json()["items"] == []
    again = assert_problem(owner.delete(f"{API}/customers/{shop.ada}"), 409)
    assert "already erased" in again["detail"]
    orders = owner.get(f"{API}/orders").json()["items"]
    assert [o["customer_id"] for o in orders].count(shop.ada) == 2  # revenue history stays with the tombstone
    refused = owner.post(f"{API}/orders", json={"customer_id": shop.ada, "placed_at": "2024-05-01T10:00:00Z",
                                                 "lines": [{"unit_price": "5.00"}]})
    assert assert_problem(refused, 422, "customer_id") and "erased" in refused.json()["detail"]
    with db.session() as s:
        assert s.get(Customer, shop.ada).display_name == f"Erased customer #{shop.ada}"
        assert s.scalar(select(func.count()).select_from(Order).where(Order.customer_id == shop.ada)) == 2


def test_an_unknown_customer_is_a_404(owner: Any, shop: Any) -> None:
    assert_problem(owner.delete(f"{API}/customers/999999"), 404)


def test_managers_and_staff_may_not_erase(api_as: Any, shop: Any, db: Database) -> None:
    for role in ("manager", "staff"):
        assert_problem(api_as(role).delete(f"{API}/customers/{shop.ada}"), 403)
    with db.session() as s:
        assert s.get(Customer, shop.ada).erased_at is None


def test_without_a_token_it_is_a_401(anon_api: Any, shop: Any) -> None:
    assert_problem(anon_api.delete(f"{API}/customers/{shop.ada}"), 401)


def test_a_new_record_of_the_erased_address_starts_without_marketing_consent(owner: Any, shop: Any) -> None:
    assert owner.delete(f"{API}/customers/{shop.ada}").status_code == 204
    again = owner.post(f"{API}/customers", json={"first_name": "Ada", "email": "ADA@example.com",
                                                  "email_consent": True})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != shop.ada and again.json()["email_consent"] is None
    other = owner.post(f"{API}/customers", json={"first_name": "Mary", "email": "mary@example.com",
                                                  "email_consent": True})
    assert other.json()["email_consent"] is True


def test_the_openapi_document_describes_the_erasure(owner: Any) -> None:
    operation = owner.get("/openapi.json").json()["paths"]["/api/v1/customers/{customer_id}"]["delete"]
    assert operation["operationId"] == "erase_customer"
    assert {"204", "404", "409", "403"} <= set(operation["responses"])
    assert "application/problem+json" in operation["responses"]["409"]["content"]
    assert "owners only" in operation["description"]
