"""API scores: the current run's customer scores, read only, filtered by segment and slipping."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from sqlalchemy import update

from ravingfans.db import Database
from ravingfans.db.models import CustomerScore
from apihelp import API, assert_problem, seed_scores


def test_before_any_run_the_list_is_empty_and_reads_are_404(owner: Any, shop: Any) -> None:
    assert owner.get(f"{API}/scores").json() == {"items": [], "next_cursor": None}
    assert "scored" in assert_problem(owner.get(f"{API}/scores/{shop.ada}"), 404)["detail"]


def test_the_current_run_is_listed_and_read(owner: Any, shop: Any, db: Database) -> None:
    seed_scores(db, [shop.ada], day=date(2024, 1, 1), segments=("at_risk",))
    run = seed_scores(db, [shop.ada, shop.grace, shop.anna])
    items = owner.get(f"{API}/scores").json()["items"]
    assert [(s["customer_id"], s["run_id"], s["segment"]) for s in items] == [
        (shop.ada, run, "champions"), (shop.grace, run, "loyal"), (shop.anna, run, "at_risk")]
    ada = owner.get(f"{API}/scores/{shop.ada}").json()
    assert ada == items[0] and ada["observation_end"] == "2024-06-01"
    assert (ada["R"], ada["F"], ada["M"], ada["clv"], ada["p_alive"]) == (3, 4, 5, 250.0, 0.8)
    assert "mean_gap" not in ada and "FM" not in ada
    assert_problem(owner.get(f"{API}/scores/{shop.linus}"), 404)  # not in the current run


def test_filters_by_segment_and_slipping(owner: Any, shop: Any, db: Database) -> None:
    seed_scores(db, [shop.ada, shop.grace, shop.anna])
    loyal = owner.get(f"{API}/scores", params={"segment": "loyal"}).json()["items"]
    assert [s["customer_id"] for s in loyal] == [shop.grace]
    slipping = owner.get(f"{API}/scores", params={"slipping": "true"}).json()["items"]
    assert [(s["customer_id"], s["slipping_rank"], s["value_at_risk"]) for s in slipping] == [(shop.anna, 1, 120.0)]
    assert slipping[0]["slipping_reason"]
    steady = owner.get(f"{API}/scores", params={"slipping": "false"}).json()["items"]
    assert [s["customer_id"] for s in steady] == [shop.ada, shop.grace]
    assert_problem(owner.get(f"{API}/scores", params={"slipping": "perhaps"}), 422, "slipping")


def test_values_json_cannot_carry_are_null(owner: Any, shop: Any, db: Database) -> None:
    run = seed_scores(db, [shop.ada])
    with db.session(write=True) as s:
        s.execute(update(CustomerScore).where(CustomerScore.run_id == run).values(clv=math.inf, p_alive=math.nan))
    body = owner.get(f"{API}/scores/{shop.ada}")
    assert body.status_code == 200
    assert (body.json()["clv"], body.json()["p_alive"]) == (None, None)


def test_scores_are_read_only(owner: Any, shop: Any, db: Database) -> None:
    seed_scores(db, [shop.ada])
    assert_problem(owner.post(f"{API}/scores", json={"customer_id": shop.ada}), 405)
    for method in ("PATCH", "PUT", "DELETE"):
        for path in (f"{API}/scores/{shop.ada}", f"{API}/scores"):
            refused = owner.request(method, path, json={"clv": 1e9})
            assert assert_problem(refused, 405)["type"] == "urn:ravingfans:problem:method_not_allowed"
            assert refused.headers["allow"] == "GET"
    assert owner.get(f"{API}/scores/{shop.ada}").json()["clv"] == 250.0
