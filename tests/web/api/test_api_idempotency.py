"""Idempotency keys on every create: the same request again replays the first answer; another request is 409."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Any

import pytest
from sqlalchemy import func, select, update

from ravingfans.db import Database
from ravingfans.db.models import Customer, IdempotencyKey, Interaction, Order, Product, ProductVariant
from ravingfans.services.idempotency import KEY_LIFETIME, PURGE_BATCH, purge_expired
from apihelp import API, assert_problem

CREATES = [  # path, body, another body, what a create adds
    ("/customers", {"first_name": "Idem", "last_name": "Potent"}, {"first_name": "Other"}, Customer),
    ("/orders", {"external_id": "I-1", "placed_at": "2024-01-01T00:00:00Z", "lines": [{"unit_price": "9.99"}]},
     {"external_id": "I-2", "placed_at": "2024-01-01T00:00:00Z", "lines": [{"unit_price": "9.99"}]}, Order),
    ("/products", {"name": "Kettle", "variants": [{"sku": "KET-1"}]}, {"name": "Pot"}, Product),
    ("/products/1/variants", {"sku": "KET-2"}, {"sku": "KET-3"}, ProductVariant),
    ("/interactions", {"customer_id": 1, "channel": "store", "kind": "gift", "rating": "magic"},
     {"customer_id": 1, "channel": "store", "kind": "gift", "rating": "misery"}, Interaction),
]


def count(db: Database, model: type[Any]) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(("path", "body", "other", "model"), CREATES)
def test_the_same_key_and_body_replays_the_first_answer(owner: Any, db: Database, path: str, body: dict[str, Any],
                                                        other: dict[str, Any], model: type[Any]) -> None:
    if path.startswith("/products/1"):
        assert owner.post(f"{API}/products", json={"name": "Kettle"}).status_code == 201
    before = count(db, model)
    headers = {"Idempotency-Key": f"key-{path}"}
    first = owner.post(API + path, json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = owner.post(API + path, content=_respaced(body), headers={**headers, "content-type": "application/json"})
    assert (again.status_code, again.json(), again.headers["location"]) == (201, first.json(),
                                                                            first.headers["location"])
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert count(db, model) == before + 1
    clash = owner.post(API + path, json=other, headers=headers)
    assert "Idempotency-Key" in assert_problem(clash, 409)["detail"]
    assert count(db, model) == before + 1


def _respaced(body: dict[str, Any]) -> bytes:
    """The same JSON with other spacing and key order."""
    return json.dumps(dict(reversed(list(body.items()))), indent=3).encode()


def test_a_key_is_bound_to_its_path_and_its_user(api_as: Any, owner: Any, db: Database) -> None:
    key = {"Idempotency-Key": "shared-key"}
    assert owner.post(f"{API}/customers", json={"first_name": "One"}, headers=key).status_code == 201
    assert_problem(owner.post(f"{API}/products", json={"name": "Two"}, headers=key), 409)
    other = api_as("manager")
    second = other.post(f"{API}/customers", json={"first_name": "One"}, headers=key)
    assert second.status_code == 201 and "idempotent-replayed" not in second.headers
    assert count(db, Customer) == 5 + 2  # the shop's five and one per user


def test_a_failed_create_keeps_no_key(owner: Any, db: Database) -> None:
    key = {"Idempotency-Key": "retry-me"}
    assert_problem(owner.post(f"{API}/customers", json={"first_name": "A", "email": "bad"}, headers=key), 422)
    assert count(db, IdempotencyKey) == 0
    fixed = owner.post(f"{API}/customers", json={"first_name": "A", "email": "a@example.com"}, headers=key)
    assert fixed.status_code == 201


def test_keys_are_forgotten_after_a_day(owner: Any, db: Database) -> None:
    key = {"Idempotency-Key": "old-key"}
    first = owner.post(f"{API}/customers", json={"first_name": "Old"}, headers=key).json()
    with db.session(write=True) as s:
        s.execute(update(IdempotencyKey).values(created_at=datetime.now(UTC) - timedelta(hours=25)))
    second = owner.post(f"{API}/customers", json={"first_name": "Old"}, headers=key).json()
    assert second["id"] != first["id"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ünïcode"])
def test_a_malformed_key_is_422_naming_the_header(owner: Any, key: str) -> None:
    response = owner.post(f"{API}/customers", json={"first_name": "K"},
                          headers={"Idempotency-Key": key.encode("utf-8")})
    assert_problem(response, 422, "Idempotency-Key")


def test_without_a_key_each_request_creates(owner: Any, db: Database) -> None:
    for _ in range(2):
        assert owner.post(f"{API}/customers", json={"first_name": "Twice"}).status_code == 201
    assert count(db, Customer) == 5 + 2


def _keys(db: Database) -> list[str]:
    with db.session() as s:
        return sorted(s.scalars(select(IdempotencyKey.key)))


def test_a_new_key_sweeps_expired_keys_of_every_user(owner: Any, api_as: Any, db: Database) -> None:
    other = api_as("manager")
    for number in range(PURGE_BATCH + 5):
        made = other.post(f"{API}/customers", json={"first_name": f"Old {number}"},
                          headers={"Idempotency-Key": f"old-{number:02d}"})
        assert made.status_code == 201
    assert other.post(f"{API}/customers", json={"first_name": "Fresh"},
                      headers={"Idempotency-Key": "fresh"}).status_code == 201
    with db.session(write=True) as s:  # all but the last are a day old
        s.execute(update(IdempotencyKey).where(IdempotencyKey.key != "fresh")
                  .values(created_at=datetime.now(UTC) - timedelta(hours=25)))
    assert owner.post(f"{API}/customers", json={"first_name": "New"},
                      headers={"Idempotency-Key": "new"}).status_code == 201
    left = _keys(db)  # the oldest PURGE_BATCH went; the rest go with the next keys
    assert left == sorted([f"old-{n:02d}" for n in range(PURGE_BATCH, PURGE_BATCH + 5)] + ["fresh", "new"])
    assert owner.post(f"{API}/customers", json={"first_name": "Next"},
                      headers={"Idempotency-Key": "next"}).status_code == 201
    assert _keys(db) == ["fresh", "new", "next"]
    assert owner.post(f"{API}/customers", json={"first_name": "No key"}).status_code == 201
    assert _keys(db) == ["fresh", "new", "next"]  # a create without a key stores and sweeps nothing


def test_purge_expired_deletes_only_expired_keys(db: Database, owner: Any) -> None:
    for key in ("a", "b"):
        made = owner.post(f"{API}/customers", json={"first_name": key}, headers={"Idempotency-Key": key})
        assert made.status_code == 201
    now = datetime.now(UTC)

    def age(key: str, hours: int) -> None:
        with db.session(write=True) as s:
            s.execute(update(IdempotencyKey).where(IdempotencyKey.key == key)
                      .values(created_at=now - timedelta(hours=hours)))

    age("a", 1)
    age("b", 25)
    with db.session(write=True) as s:  # the oldest by id ("a") has not expired: a batch of 1 sweeps nothing
        assert purge_expired(s, clock=lambda: now, batch=1) == 0
    with db.session(write=True) as s:
        assert purge_expired(s, clock=lambda: now, batch=2) == 1
    assert _keys(db) == ["a"]
    with db.session(write=True) as s:
        assert purge_expired(s, clock=lambda: now + KEY_LIFETIME - timedelta(hours=2)) == 0
        assert purge_expired(s, clock=lambda: now + KEY_LIFETIME) == 1
    assert _keys(db) == []
