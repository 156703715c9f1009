"""API orders: record one with its lines (signed and totalled as imports store them), read, list by customer, time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ravingfans.db import Database
from ravingfans.db.models import Order
from ravingfans.services.ledger import load_transactions
from apihelp import API, assert_problem


def order(external_id: str = "W-1", **extra: Any) -> dict[str, Any]:
    """An order body with a sale, a return and a refund line."""
    return {"external_id": external_id, "placed_at": "2024-04-01T10:00:00+02:00", "channel": "web", "lines": [
        {"sku": "BOOT-38", "quantity": 2, "unit_price": "60.00", "discount": "10.00"},
        {"kind": "return", "product_name": "Socks", "quantity": 1, "unit_price": 5.25},
        {"kind": "refund", "product_name": "Goodwill", "unit_price": "3.00"},
    ], **extra}


def test_create_signs_lines_links_variants_and_totals_in_cents(owner: Any, shop: Any, db: Database) -> None:
    product = owner.post(f"{API}/products", json={"name": "Boots", "variants": [{"sku": "BOOT-38"}]}).json()
    response = owner.post(f"{API}/orders", json=order(customer_id=shop.ada, employee_id=shop.employee))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{API}/orders/{body['id']}"
    assert body["placed_at"] == "2024-04-01T08:00:00Z"
    sale, ret, refund = body["lines"]
    assert (sale["variant_id"], sale["product_name"], sale["amount"]) == (product["variants"][0]["id"], "Boots",
                                                                          "110.00")
    assert (ret["quantity"], ret["unit_price"], ret["amount"]) == (-1, "5.25", "-5.25")
    assert (refund["quantity"], refund["unit_price"], refund["amount"]) == (1, "-3.00", "-3.00")
    assert body["total"] == "101.75"
    assert owner.get(f"{API}/orders/{body['id']}").json() == body
    with db.session() as s:
        stored = s.scalar(select(Order).where(Order.external_id == "W-1"))
        assert stored is not None and stored.source == "api" and str(stored.total) == "101.75"


def test_an_order_counts_on_the_customer_profile_page(owner: Any, shop: Any, client: Any) -> None:
    assert owner.post(f"{API}/orders", json=order("W-7", customer_id=shop.linus)).status_code == 201
    page = client.get(f"/customers/{shop.linus}").text
    assert "W-7" in page


def test_an_order_without_a_number_gets_one(owner: Any) -> None:
    body = {"placed_at": "2024-01-01T00:00:00Z", "lines": [{"unit_price": "1.00"}]}
    first, second = (owner.post(f"{API}/orders", json=body).json() for _ in range(2))
    assert first["external_id"].startswith("api-") and first["external_id"] != second["external_id"]


def test_the_same_order_number_twice_is_a_conflict(owner: Any) -> None:
    assert owner.post(f"{API}/orders", json=order("W-2")).status_code == 201
    assert "W-2" in assert_problem(owner.post(f"{API}/orders", json=order("W-2")), 409)["detail"]


def test_bad_orders_name_the_field(owner: Any, shop: Any) -> None:
    good = order("W-3")
    for change, field in (
        ({"customer_id": 999999}, "customer_id"),
        ({"employee_id": 999999}, "employee_id"),
        ({"placed_at": "2999-01-01T00:00:00Z"}, "placed_at"),
        ({"placed_at": "not a time"}, "placed_at"),
        ({"lines": []}, "lines"),
        ({"lines": [{"unit_price": "1.005"}]}, "lines[0].unit_price"),
        ({"lines": [{"unit_price": "-1"}]}, "lines[0].unit_price"),
        ({"lines": [{"unit_price": "NaN"}]}, "lines[0].unit_price"),
        ({"lines": [{"unit_price": "1", "quantity": 0}]}, "lines[0].quantity"),
        ({"lines": [{"unit_price": "1", "kind": "gift"}]}, "lines[0].kind"),
        ({"lines": [{"unit_price": "1", "discount": "2"}]}, "lines[0].discount"),
        ({"lines": [{"unit_price": "1"}, {"unit_price": "1", "variant_id": 999999}]}, "lines[1].variant_id"),
        ({"external_id": ""}, "external_id"),
        ({"cancelled_at": "2024-03-31T00:00:00Z"}, "cancelled_at"),  # before it was placed
        ({"cancelled_at": "0001-01-01T00:00:00+14:00"}, "cancelled_at"),
    ):
        assert_problem(owner.post(f"{API}/orders", json={**good, **change}), 422, field)
    assert owner.post(f"{API}/orders", json=good).status_code == 201  # nothing above was half-written


def test_list_by_customer_and_time(owner: Any, shop: Any) -> None:
    mine = owner.get(f"{API}/orders", params={"customer_id": shop.ada}).json()["items"]
    assert {o["external_id"] for o in mine} == {"A-1", "A-2"}
    assert all(o["lines"] for o in mine)
    window = owner.get(f"{API}/orders", params={"since": "2023-12-01T00:00:00Z", "until": "2024-03-01T23:30:00Z"})
    assert [o["external_id"] for o in window.json()["items"]] == ["G-1"]  # until is exclusive
    tokyo = owner.get(f"{API}/orders", params={"since": "2024-03-02T08:30:00"}).json()["items"]  # = 23:30 UTC
    assert "A-1" in {o["external_id"] for o in tokyo}
    assert_problem(owner.get(f"{API}/orders", params={"since": "0001-01-01T00:00:00+05:00"}), 422, "since")
    assert_problem(owner.get(f"{API}/orders", params={"customer_id": "ada"}), 422, "customer_id")


def test_a_manager_changes_what_surrounds_the_lines(api_as: Any, owner: Any, shop: Any) -> None:
    made = owner.post(f"{API}/orders", json=order("W-4", customer_id=shop.ada)).json()
    manager = api_as("manager")
    changed = manager.patch(f"{API}/orders/{made['id']}", json={
        "employee_id": shop.employee, "channel": "store", "location": "Main St", "financial_status": "paid",
        "cancelled_at": "2024-04-02T09:00:00"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["employee_id"], body["channel"], body["location"], body["financial_status"], body["cancelled_at"]) \
        == (shop.employee, "store", "Main St", "paid", "2024-04-02T00:00:00Z")  # read in Tokyo
    kept = ("id", "external_id", "customer_id", "placed_at", "total", "lines", "source")
    assert {k: body[k] for k in kept} == {k: made[k] for k in kept}
    assert manager.get(f"{API}/orders/{made['id']}").json() == body
    cleared = manager.patch(f"{API}/orders/{made['id']}", json={"location": None, "channel": "", "cancelled_at": None,
                                                                "employee_id": None}).json()
    assert (cleared["location"], cleared["channel"], cleared["cancelled_at"], cleared["employee_id"]) == (
        None, None, None, None)
    assert cleared["financial_status"] == "paid"  # not sent, not changed


def test_an_imported_order_can_be_cancelled_and_leaves_the_ledger(owner: Any, shop: Any, db: Database) -> None:
    with db.session() as s:
        a1 = s.scalar(select(Order.id).where(Order.external_id == "A-1"))
    assert owner.patch(f"{API}/orders/{a1}", json={"cancelled_at": "2024-03-02T00:00:00Z"}).status_code == 200
    assert a1 not in load_transactions(db.engine)["order_id"].to_list()


def test_lines_and_money_never_change(owner: Any, api_as: Any, shop: Any) -> None:
    made = owner.post(f"{API}/orders", json=order("W-5")).json()
    path = f"{API}/orders/{made['id']}"
    for change, field in (({"lines": [{"unit_price": "1.00"}]}, "lines"), ({"total": "0.00"}, "total"),
                          ({"placed_at": "2024-01-01T00:00:00Z"}, "placed_at"), ({"external_id": "W-6"}, "external_id"),
                          ({"customer_id": shop.ada}, "customer_id"), ({"employee_id": 999999}, "employee_id"),
                          ({"employee_id": 2**63}, "employee_id"), ({"channel": "x" * 21}, "channel"),
                          ({"location": "nul\u0000"}, "location"), ({"financial_status": ["paid"]}, "financial_status"),
                          ({"cancelled_at": "2999-01-01T00:00:00Z"}, "cancelled_at"),
                          ({"cancelled_at": "2024-03-31T00:00:00Z"}, "cancelled_at"),  # before it was placed
                          ({"cancelled_at": "9999-12-31T23:59:59-14:00"}, "cancelled_at")):
        assert_problem(owner.patch(path, json={"location": "half-written", **change}), 422, field)
    assert owner.get(path).json() == made
    assert_problem(api_as("staff").patch(path, json={"channel": "store"}), 403)
    assert_problem(owner.patch(f"{API}/orders/999999", json={"channel": "store"}), 404)
    assert_problem(owner.put(path, json=order("W-5")), 405)
    assert_problem(owner.delete(path), 405)


def test_a_refund_is_a_new_order_with_refund_lines(owner: Any, shop: Any) -> None:
    sale = owner.post(f"{API}/orders", json=order("W-8", customer_id=shop.linus)).json()
    refund = owner.post(f"{API}/orders", json={"external_id": "W-8-R", "customer_id": shop.linus,
                                               "placed_at": "2024-04-03T10:00:00Z", "financial_status": "refunded",
                                               "lines": [{"kind": "refund", "unit_price": "20.00"}]}).json()
    assert (sale["total"], refund["total"]) == ("101.75", "-20.00")
