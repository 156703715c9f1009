"""API moments of truth: logged with the profile form's rules (same service), read, listed by customer, rating, time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from apihelp import API, assert_problem

from ravingfans.db import Database
from ravingfans.errors import ValidationFailed
from ravingfans.services.interactions import update_moment
from ravingfans.services.moments import log_interaction, parse_interaction


def test_log_a_moment_and_see_it_on_the_profile(api_as: Any, shop: Any, client: Any) -> None:
    staff = api_as("staff")
    response = staff.post(f"{API}/interactions", json={
        "customer_id": shop.grace, "channel": "phone", "kind": "complaint", "rating": "misery",
        "note": "Coat seam <b>split</b>", "employee_id": shop.employee, "occurred_at": "2024-05-02T09:00:00"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{API}/interactions/{body['id']}"
    assert body["occurred_at"] == "2024-05-02T00:00:00Z"  # read in the business's zone, Asia/Tokyo
    assert (body["customer_id"], body["rating"], body["employee_name"]) == (shop.grace, "misery", "Sam Seller")
    assert staff.get(response.headers["location"]).json() == body
    page = client.get(f"/customers/{shop.grace}").text
    assert "Coat seam &lt;b&gt;split&lt;/b&gt;" in page


def test_bad_moments_name_the_field(owner: Any, shop: Any) -> None:
    good = {"customer_id": shop.ada, "channel": "store", "kind": "question"}
    for change, field in (({"channel": "pigeon"}, "channel"), ({"kind": "gossip"}, "kind"),
                          ({"rating": "great"}, "rating"), ({"employee_id": 999999}, "employee_id"),
                          ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
                          ({"note": "x" * 5001}, "note"), ({"note": "bell\u0007"}, "note"),
                          ({"customer_id": 0}, "customer_id")):
        assert_problem(owner.post(f"{API}/interactions", json={**good, **change}), 422, field)
    assert_problem(owner.post(f"{API}/interactions", json={**good, "customer_id": 999999}), 404)


def test_list_by_customer_rating_and_time(owner: Any, shop: Any) -> None:
    for customer, rating in ((shop.grace, "misery"), (shop.grace, "magic"), (shop.anna, None)):
        made = owner.post(f"{API}/interactions", json={"customer_id": customer, "channel": "store",
                                                       "kind": "question", "rating": rating,
                                                       "occurred_at": "2024-05-01T12:00:00Z"})
        assert made.status_code == 201
    everything = owner.get(f"{API}/interactions").json()["items"]
    assert len(everything) == 4 and [i["id"] for i in everything] == sorted(i["id"] for i in everything)
    graces = owner.get(f"{API}/interactions", params={"customer_id": shop.grace}).json()["items"]
    assert [i["rating"] for i in graces] == ["misery", "magic"]
    magic = owner.get(f"{API}/interactions", params={"rating": "magic"}).json()["items"]
    assert {i["customer_id"] for i in magic} == {shop.ada, shop.grace}
    may = owner.get(f"{API}/interactions", params={"since": "2024-05-01T00:00:00Z"}).json()["items"]
    assert len(may) == 3
    march = owner.get(f"{API}/interactions", params={"until": "2024-05-01T00:00:00Z"}).json()["items"]
    assert [i["customer_id"] for i in march] == [shop.ada]
    assert_problem(owner.get(f"{API}/interactions", params={"rating": "meh"}), 422, "rating")


def _logged(owner: Any, shop: Any) -> dict[str, Any]:
    made = owner.post(f"{API}/interactions", json={
        "customer_id": shop.grace, "channel": "phone", "kind": "complaint", "rating": "misery", "note": "Seam split",
        "employee_id": shop.employee, "occurred_at": "2024-05-02T09:00:00Z"})
    assert made.status_code == 201, made.text
    return made.json()


def test_a_manager_corrects_a_moment_and_the_profile_shows_it(api_as: Any, owner: Any, shop: Any,
                                                              client: Any) -> None:
    moment = _logged(owner, shop)
    manager = api_as("manager")
    changed = manager.patch(f"{API}/interactions/{moment['id']}", json={
        "rating": "magic", "note": "Seam <i>mended</i>, happy", "occurred_at": "2024-05-02T10:00:00"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["rating"], body["note"], body["occurred_at"]) == ("magic", "Seam <i>mended</i>, happy",
                                                                   "2024-05-02T01:00:00Z")  # read in Tokyo
    unchanged = {k: v for k, v in moment.items() if k not in ("rating", "note", "occurred_at")}
    assert {k: body[k] for k in unchanged} == unchanged  # channel, kind, employee, customer, created_at stay
    assert manager.get(f"{API}/interactions/{moment['id']}").json() == body
    assert "Seam &lt;i&gt;mended&lt;/i&gt;, happy" in client.get(f"/customers/{shop.grace}").text
    cleared = manager.patch(f"{API}/interactions/{moment['id']}", json={"rating": None, "employee_id": None,
                                                                       "note": None}).json()
    assert (cleared["rating"], cleared["employee_id"], cleared["employee_name"], cleared["note"]) == (
        None, None, None, "")
    assert manager.patch(f"{API}/interactions/{moment['id']}", json={}).json() == cleared


def test_staff_may_log_but_not_correct(api_as: Any, owner: Any, shop: Any) -> None:
    moment = _logged(owner, shop)
    assert_problem(api_as("staff").patch(f"{API}/interactions/{moment['id']}", json={"note": "mine"}), 403)
    assert owner.get(f"{API}/interactions/{moment['id']}").json()["note"] == "Seam split"


def test_bad_corrections_name_the_field_and_change_nothing(owner: Any, shop: Any) -> None:
    moment = _logged(owner, shop)
    path = f"{API}/interactions/{moment['id']}"
    for change, field in (({"channel": "pigeon"}, "channel"), ({"kind": "gossip"}, "kind"),
                          ({"rating": "great"}, "rating"), ({"employee_id": 999999}, "employee_id"),
                          ({"employee_id": 0}, "employee_id"),
                          ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
                          ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
                          ({"occurred_at": "1899-12-31T23:00:00Z"}, "occurred_at"),
                          ({"occurred_at": None}, "occurred_at"), ({"channel": None}, "channel"),
                          ({"kind": None}, "kind"), ({"note": "x" * 5001}, "note"), ({"note": "bell\u0007"}, "note"),
                          ({"customer_id": shop.ada}, "customer_id"), ({"created_at": "2024-01-01T00:00:00Z"},
                                                                     "created_at")):
        assert_problem(owner.patch(path, json={"note": "half-written", **change}), 422, field)
    assert owner.get(path).json() == moment
    assert_problem(owner.patch(f"{API}/interactions/999999", json={"note": "x"}), 404)
    assert_problem(owner.get(f"{API}/interactions/999999"), 404)


def test_a_correction_follows_the_profile_forms_rules(owner: Any, shop: Any, db: Database) -> None:
    """The same service check as the profile page: a correction the form would refuse is refused here too."""
    moment = _logged(owner, shop)
    with db.session(write=True) as s, pytest.raises(ValidationFailed) as refused:
        update_moment(s, moment["id"], {"occurred_at": datetime(2999, 1, 1, tzinfo=UTC)})
    assert refused.value.field == "occurred_at"
    with db.session(write=True) as s, pytest.raises(ValidationFailed) as refused:
        log_interaction(s, shop.grace, parse_interaction({"channel": "store", "kind": "other",
                                                          "occurred_at": "2999-01-01T00:00:00Z"}))
    assert refused.value.field == "occurred_at"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00",
                                  "1899-12-31T23:00:00Z"])
def test_times_out_of_range_are_a_422_naming_the_field(owner: Any, shop: Any, when: str) -> None:
    answer = owner.post("/api/v1/interactions", json={"customer_id": shop.ada, "channel": "store", "kind": "other",
                                                      "occurred_at": when})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in answer.json()["errors"]] == ["occurred_at"]
