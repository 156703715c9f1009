"""API products: create with variants, read, list by name, category and SKU, change products and variants (stock)."""

from __future__ import annotations

from typing import Any

from apihelp import API, assert_problem

BOOTS = {"name": "Chelsea boots", "category": "shoes", "brand": "Acme", "external_id": "P-1", "variants": [
    {"sku": "BOOT-38", "size": "38", "colour": "brown", "price": "120.00", "stock": 3},
    {"sku": "BOOT-39", "size": "39", "colour": "brown", "price": 120, "stock": 0}]}


def test_create_and_read_a_product_with_variants(owner: Any) -> None:
    response = owner.post(f"{API}/products", json=BOOTS)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{API}/products/{body['id']}"
    assert (body["name"], body["category"], body["source"], body["external_id"]) == ("Chelsea boots", "shoes", "api",
                                                                                      "P-1")
    assert [(v["sku"], v["price"], v["stock"]) for v in body["variants"]] == [("BOOT-38", "120.00", 3),
                                                                              ("BOOT-39", "120.00", 0)]
    assert "row_hash" not in body["variants"][0]
    assert owner.get(f"{API}/products/{body['id']}").json() == body
    variant = body["variants"][0]
    assert owner.get(f"{API}/products/{body['id']}/variants/{variant['id']}").json() == variant


def test_a_product_without_external_id_gets_one(owner: Any) -> None:
    body = owner.post(f"{API}/products", json={"name": "Scarf"}).json()
    assert body["external_id"].startswith("api-") and body["variants"] == []


def test_skus_are_unique_across_the_catalogue(owner: Any) -> None:
    assert owner.post(f"{API}/products", json=BOOTS).status_code == 201
    again = {**BOOTS, "external_id": "P-2", "variants": [{"sku": "BOOT-39"}]}
    assert "BOOT-39" in assert_problem(owner.post(f"{API}/products", json=again), 409)["detail"]
    twice = {"name": "Twins", "variants": [{"sku": "T-1"}, {"sku": "T-1"}]}
    assert_problem(owner.post(f"{API}/products", json=twice), 422)
    assert_problem(owner.post(f"{API}/products", json={**BOOTS, "variants": []}), 409)  # external_id P-1 again


def test_list_filters(owner: Any) -> None:
    boots = owner.post(f"{API}/products", json=BOOTS).json()
    scarf = owner.post(f"{API}/products", json={"name": "Scarf", "category": "accessories",
                                                 "variants": [{"sku": "SCARF-RED"}]}).json()
    assert [p["id"] for p in owner.get(f"{API}/products").json()["items"]] == [boots["id"], scarf["id"]]
    assert [p["id"] for p in owner.get(f"{API}/products", params={"q": "chel"}).json()["items"]] == [boots["id"]]
    assert [p["id"] for p in owner.get(f"{API}/products", params={"q": "%"}).json()["items"]] == []
    assert [p["id"] for p in owner.get(f"{API}/products", params={"category": "accessories"}).json()["items"]] == [
        scarf["id"]]
    assert [p["id"] for p in owner.get(f"{API}/products", params={"sku": "BOOT-39"}).json()["items"]] == [boots["id"]]


def test_change_a_product_and_a_variants_stock(owner: Any) -> None:
    boots = owner.post(f"{API}/products", json=BOOTS).json()
    changed = owner.patch(f"{API}/products/{boots['id']}", json={"name": "Boots", "brand": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["brand"], changed.json()["category"]) == ("Boots", None, "shoes")
    assert_problem(owner.patch(f"{API}/products/{boots['id']}", json={"name": None}), 422, "name")
    variant = boots["variants"][1]
    url = f"{API}/products/{boots['id']}/variants/{variant['id']}"
    restocked = owner.patch(url, json={"stock": 12, "price": "99.90"})
    assert restocked.status_code == 200, restocked.text
    assert (restocked.json()["stock"], restocked.json()["price"]) == (12, "99.90")
    assert restocked.json()["updated_at"] >= variant["updated_at"]
    assert owner.get(f"{API}/products/{boots['id']}").json()["variants"][1]["stock"] == 12
    assert_problem(owner.patch(url, json={"stock": None}), 422, "stock")
    assert_problem(owner.patch(url, json={"stock": "lots"}), 422, "stock")


def test_add_a_variant(owner: Any) -> None:
    boots = owner.post(f"{API}/products", json=BOOTS).json()
    added = owner.post(f"{API}/products/{boots['id']}/variants", json={"sku": "BOOT-40", "size": "40", "stock": 1})
    assert added.status_code == 201, added.text
    assert added.headers["location"] == f"{API}/products/{boots['id']}/variants/{added.json()['id']}"
    assert [v["sku"] for v in owner.get(f"{API}/products/{boots['id']}").json()["variants"]] == [
        "BOOT-38", "BOOT-39", "BOOT-40"]
    assert_problem(owner.post(f"{API}/products/{boots['id']}/variants", json={"sku": "BOOT-40"}), 409)
    assert_problem(owner.post(f"{API}/products/999999/variants", json={"sku": "X-1"}), 404)


def test_a_variant_belongs_to_its_product(owner: Any) -> None:
    boots = owner.post(f"{API}/products", json=BOOTS).json()
    scarf = owner.post(f"{API}/products", json={"name": "Scarf"}).json()
    variant = boots["variants"][0]["id"]
    assert_problem(owner.get(f"{API}/products/{scarf['id']}/variants/{variant}"), 404)
    assert_problem(owner.patch(f"{API}/products/{scarf['id']}/variants/{variant}", json={"stock": 1}), 404)
