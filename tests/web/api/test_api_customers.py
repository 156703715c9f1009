"""API customers: list with search, segment and change filters, read, create and change, through the shared services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ravingfans.db import Database
from ravingfans.db.models import Consent, Customer, CustomerIdentity
from apihelp import API, assert_problem, seed_scores

INTERNAL = {"attributes", "row_hash", "identities", "consents", "note_entries", "password_hash", "content_hash"}


def test_get_a_customer_shows_the_public_fields_only(owner: Any, shop: Any) -> None:
    body = owner.get(f"{API}/customers/{shop.ada}").json()
    assert body["id"] == shop.ada
    assert body["name"] == "Ada Lovelace"
    assert body["email"] == "ada@example.com" and body["phone"] == "+14155550123"
    assert body["likes"] == ["green tea", "poetry"] and body["sizes"] == {"shoe": "38"}
    assert body["personal_details"] == {"dog_name": "Rex"}
    assert not INTERNAL & set(body)
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None


def test_an_unknown_customer_is_a_404_problem(owner: Any) -> None:
    assert_problem(owner.get(f"{API}/customers/999999"), 404)


def test_list_is_ordered_by_id_and_searches_like_the_customer_list(owner: Any, shop: Any) -> None:
    everyone = owner.get(f"{API}/customers").json()
    ids = [c["id"] for c in everyone["items"]]
    assert ids == sorted(ids) and set(ids) >= {shop.ada, shop.grace, shop.linus, shop.anna}
    assert everyone["next_cursor"] is None
    for query, expected in (("ada", [shop.ada]), ("LOVE", [shop.ada]), ("grace@navy", [shop.grace]),
                            ("+1 415 555", [shop.ada]), ("(202) 555-0199", [shop.grace]), ("zzz", [])):
        found = owner.get(f"{API}/customers", params={"q": query}).json()["items"]
        assert [c["id"] for c in found] == expected, query


def test_list_by_segment_of_the_current_run(owner: Any, shop: Any, db: Database) -> None:
    seed_scores(db, [shop.ada, shop.grace], day=datetime(2024, 1, 1).date(), segments=("at_risk", "champions"))
    seed_scores(db, [shop.ada, shop.grace, shop.anna])  # current: ada champions, grace loyal, anna at_risk
    champions = owner.get(f"{API}/customers", params={"segment": "champions"}).json()["items"]
    assert [c["id"] for c in champions] == [shop.ada]
    at_risk = owner.get(f"{API}/customers", params={"segment": "at_risk"}).json()["items"]
    assert [c["id"] for c in at_risk] == [shop.anna]
    assert owner.get(f"{API}/customers", params={"segment": "nobody"}).json()["items"] == []


def test_list_changed_since(owner: Any, shop: Any) -> None:
    assert owner.patch(f"{API}/customers/{shop.grace}", json={"city": "Arlington"}).status_code == 200
    recent = owner.get(f"{API}/customers", params={"updated_since": "2025-01-01T00:00:00Z"}).json()["items"]
    assert [c["id"] for c in recent] == [shop.grace]
    # A time without a zone is read in the business's zone (Asia/Tokyo, 9 hours ahead of UTC).
    seeded = owner.get(f"{API}/customers", params={"updated_since": "2023-01-05T18:00:00"}).json()["items"]
    assert len(seeded) >= 5
    later = owner.get(f"{API}/customers", params={"updated_since": "2023-01-05T18:00:01"}).json()["items"]
    assert [c["id"] for c in later] == [shop.grace]


def test_create_normalises_and_records_consent_and_identity(owner: Any, db: Database, shop: Any) -> None:
    response = owner.post(f"{API}/customers", json={
        "first_name": "  Mary ", "last_name": "Shelley", "email": "Mary@Example.COM", "phone": "(415) 555-0100",
        "country": "gb", "likes": ["gothic novels"], "email_consent": True, "referred_by_id": shop.ada,
        "external_id": "crm-42"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{API}/customers/{body['id']}"
    assert (body["first_name"], body["email"], body["phone"], body["country"]) == (
        "Mary", "mary@example.com", "+14155550100", "GB")
    assert body["source"] == "api" and body["external_id"] == "crm-42" and body["referred_by_id"] == shop.ada
    assert owner.get(response.headers["location"]).json() == body
    with db.session() as s:
        consent = s.scalar(select(Consent).where(Consent.customer_id == body["id"]))
        assert consent is not None and consent.granted and consent.source == "api"
        identity = select(CustomerIdentity.customer_id).where(CustomerIdentity.external_id == "crm-42")
        assert s.scalar(identity) == body["id"]
    clash = owner.post(f"{API}/customers", json={"first_name": "Other", "external_id": "crm-42"})
    assert "crm-42" in assert_problem(clash, 409)["detail"]


def test_a_customer_made_by_the_api_is_on_the_pages(owner: Any, client: Any) -> None:
    made = owner.post(f"{API}/customers", json={"first_name": "Percy", "last_name": "Shelley"}).json()
    assert "Percy" in client.get("/customers", params={"q": "percy"}).text
    assert "Shelley" in client.get(f"/customers/{made['id']}").text


def test_create_refuses_bad_fields_by_name(owner: Any) -> None:
    for body, field in (
        ({}, "body"),
        ({"first_name": "A", "email": "not-an-address"}, "email"),
        ({"first_name": "A", "phone": "12"}, "phone"),
        ({"first_name": "A", "country": "Germany"}, "country"),
        ({"first_name": "A", "birthday": "2999-01-01"}, "birthday"),
        ({"first_name": "A", "referred_by_id": 999999}, "referred_by_id"),
        ({"first_name": "A", "likes": "tea"}, "likes"),
        ({"first_name": "A", "sizes": {"shoe": 38}}, "sizes.shoe"),
        ({"first_name": "A", "password_hash": "x"}, "password_hash"),
        ({"first_name": "x" * 121}, "first_name"),
        ({"first_name": "A\u0000B"}, "first_name"),
    ):
        assert_problem(owner.post(f"{API}/customers", json=body), 422, field)


def test_update_changes_only_what_is_sent_and_null_clears(owner: Any, shop: Any, db: Database) -> None:
    before = owner.get(f"{API}/customers/{shop.ada}").json()
    response = owner.patch(f"{API}/customers/{shop.ada}", json={"city": "Paris", "phone": None,
                                                                "likes": ["opera"], "email_consent": True})
    assert response.status_code == 200, response.text
    after = response.json()
    assert (after["city"], after["phone"], after["likes"]) == ("Paris", None, ["opera"])
    assert after["email"] == before["email"] and after["sizes"] == before["sizes"]
    assert after["updated_at"] > before["updated_at"]
    with db.session() as s:
        granted = select(Consent.granted).where(Consent.customer_id == shop.ada, Consent.source == "api")
        assert s.scalar(granted) is True  # Ada had withdrawn; she opts in again
    unchanged = owner.patch(f"{API}/customers/{shop.ada}", json={"city": "Paris"}).json()
    assert unchanged["updated_at"] == after["updated_at"]  # nothing really changed


def test_update_refuses_what_would_break_the_record(owner: Any, shop: Any) -> None:
    assert_problem(owner.patch(f"{API}/customers/{shop.ada}", json={"referred_by_id": shop.ada}), 422,
                   "referred_by_id")
    assert_problem(owner.patch(f"{API}/customers/{shop.anna}", json={"phone": None, "first_name": None,
                                                                      "last_name": ""}), 422)
    assert_problem(owner.patch(f"{API}/customers/{shop.ada}", json={"email": "@"}), 422, "email")
    assert_problem(owner.patch(f"{API}/customers/999999", json={"city": "Paris"}), 404)
    assert owner.patch(f"{API}/customers/{shop.grace}", json={"referred_by_id": shop.ada}).status_code == 200
    assert_problem(owner.patch(f"{API}/customers/{shop.ada}", json={"referred_by_id": shop.grace}), 422,
                   "referred_by_id")  # Ada brought Grace: Grace cannot have brought Ada
    assert_problem(owner.patch(f"{API}/customers/{shop.ada}", json={"source": "hacked"}), 422, "source")


def test_hostile_text_comes_back_as_json_text(owner: Any, shop: Any) -> None:
    response = owner.get(f"{API}/customers/{shop.hostile}")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["likes"] == ["<script>alert('like')</script>"]


def test_the_update_reaches_the_database_once(owner: Any, shop: Any, db: Database) -> None:
    owner.patch(f"{API}/customers/{shop.linus}", json={"tags": ["kernel"], "notes": "Line one\nLine two"})
    with db.session() as s:
        linus = s.get(Customer, shop.linus)
        assert linus is not None and linus.tags == ["kernel"] and linus.notes == "Line one\nLine two"
        assert linus.updated_at > datetime(2024, 1, 1, tzinfo=UTC)
