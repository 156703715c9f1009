"""Cursor pagination: every list walked page by page gives each row once, in order, also while rows are added."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from ravingfans.db import Database
from apihelp import API, assert_problem, seed_scores

Maker = Callable[[Any, Any, int], None]


def make_customers(client: Any, shop: Any, n: int) -> None:
    for i in range(n):
        assert client.post(f"{API}/customers", json={"first_name": f"Pat{i}", "last_name": "Page"}).status_code == 201


def make_orders(client: Any, shop: Any, n: int) -> None:
    for i in range(n):
        assert client.post(f"{API}/orders", json={"external_id": f"P-{i}", "placed_at": "2024-01-01T00:00:00Z",
                                                  "lines": [{"unit_price": "1.00"}]}).status_code == 201


def make_products(client: Any, shop: Any, n: int) -> None:
    for i in range(n):
        assert client.post(f"{API}/products", json={"name": f"Thing {i}"}).status_code == 201


def make_interactions(client: Any, shop: Any, n: int) -> None:
    for _ in range(n):
        assert client.post(f"{API}/interactions", json={"customer_id": shop.grace, "channel": "web",
                                                        "kind": "question"}).status_code == 201


def ids_of(item: dict[str, Any]) -> int:
    return int(item.get("id", item.get("customer_id", 0)))


def walk(client: Any, path: str, limit: int, params: dict[str, Any] | None = None,
         between: Callable[[], None] | None = None) -> list[int]:
    """Every id of a list, page by page; ``between`` runs after the first page."""
    seen: list[int] = []
    cursor = None
    while True:
        page = client.get(API + path, params={**(params or {}), "limit": limit,
                                              **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= limit
        seen += [ids_of(item) for item in body["items"]]
        cursor = body["next_cursor"]
        if between is not None and len(seen) == limit:
            between()
        if cursor is None:
            return seen


@pytest.mark.parametrize(("path", "make"), [("/customers", make_customers), ("/orders", make_orders),
                                            ("/products", make_products), ("/interactions", make_interactions)])
def test_walking_the_pages_gives_every_row_once_in_order(owner: Any, shop: Any, path: str, make: Maker) -> None:
    make(owner, shop, 8)
    everything = [ids_of(i) for i in owner.get(API + path, params={"limit": 200}).json()["items"]]
    assert len(everything) >= 8
    for limit in (1, 3, len(everything), len(everything) + 1):
        assert walk(owner, path, limit) == everything, limit


@pytest.mark.parametrize(("path", "make"), [("/customers", make_customers), ("/interactions", make_interactions)])
def test_rows_added_while_walking_are_not_skipped_nor_repeated(owner: Any, shop: Any, path: str, make: Maker) -> None:
    make(owner, shop, 5)
    before = [ids_of(i) for i in owner.get(API + path, params={"limit": 200}).json()["items"]]
    seen = walk(owner, path, 2, between=lambda: make(owner, shop, 3))
    assert len(seen) == len(set(seen)) == len(before) + 3
    assert seen[:len(before)] == before and seen == sorted(seen)


def test_scores_walk_their_run_to_the_end_even_if_a_new_run_arrives(owner: Any, shop: Any, db: Database) -> None:
    customers = [shop.ada, shop.grace, shop.linus, shop.anna, shop.hostile]
    first = seed_scores(db, customers)
    seen = walk(owner, "/scores", 2, between=lambda: seed_scores(db, [shop.ada]))
    assert seen == sorted(customers)
    assert {s["run_id"] for s in owner.get(f"{API}/scores").json()["items"]} != {first}  # new pages: the new run


def test_filters_apply_on_every_page(owner: Any, shop: Any) -> None:
    make_customers(owner, shop, 6)
    paged = walk(owner, "/customers", 2, {"q": "pat"})
    assert len(paged) == 6
    assert all(owner.get(f"{API}/customers/{i}").json()["last_name"] == "Page" for i in paged)


def test_cursors_that_are_not_ours_are_422_naming_the_cursor(owner: Any, shop: Any) -> None:
    make_customers(owner, shop, 3)
    first = owner.get(f"{API}/customers", params={"limit": 1}).json()
    forged = base64.urlsafe_b64encode(json.dumps({"p": [-1], "s": "x"}).encode()).decode().rstrip("=")
    for cursor in ("garbage", "e30", forged, "🙂", "A" * 300):
        assert_problem(owner.get(f"{API}/customers", params={"cursor": cursor}), 422, "cursor")
    # A cursor of one list does not walk another list, nor the same list with other filters.
    assert_problem(owner.get(f"{API}/orders", params={"cursor": first["next_cursor"]}), 422, "cursor")
    assert_problem(owner.get(f"{API}/customers", params={"cursor": first["next_cursor"], "q": "pat"}), 422, "cursor")


@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten", "1e3"])
def test_limit_is_1_to_200(owner: Any, limit: str) -> None:
    assert_problem(owner.get(f"{API}/customers", params={"limit": limit}), 422, "limit")
