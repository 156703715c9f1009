"""API authentication and roles: bearer tokens only, 401 with WWW-Authenticate, 403 by role, 429 for token floods."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ravingfans.db import Database
from ravingfans.db.models import ApiToken, User
from ravingfans.services.accounts import disable_user, revoke_token
from apihelp import API, assert_problem, bearer, issue_token
from signin import sign_in_as

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NEW_CUSTOMER = {"first_name": "Mary", "last_name": "Shelley", "email": "mary@example.com"}


def test_no_token_is_401_with_a_bearer_challenge(anon_api: TestClient) -> None:
    for path in ("/customers", "/customers/1", "/orders", "/products", "/interactions", "/scores"):
        response = anon_api.get(API + path)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == 'Bearer realm="ravingfans"'


@pytest.mark.parametrize("header", ["Bearer rf_not-a-real-token", "Bearer not-even-ours", "Basic dXNlcjpwYXNz",
                                    "Bearer", "bearer  ", "Token rf_x"])
def test_a_bad_authorization_header_is_401(anon_api: TestClient, header: str) -> None:
    response = anon_api.get(f"{API}/customers", headers={"Authorization": header})
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith('Bearer realm="ravingfans"')
    assert "not-a-real-token" not in response.text and "dXNlcjpwYXNz" not in response.text  # never echoed
    assert body["instance"] == f"{API}/customers"


def test_the_scheme_is_case_insensitive(anon_api: TestClient, db: Database) -> None:
    token = issue_token(db, "staff")
    assert anon_api.get(f"{API}/customers", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_revoked_and_disabled_users_tokens_are_refused(anon_api: TestClient, db: Database) -> None:
    revoked = issue_token(db, "manager", "revoked@shoe.example")
    disabled = issue_token(db, "manager", "disabled@shoe.example")
    for token in (revoked, disabled):
        assert anon_api.get(f"{API}/customers", headers=bearer(token)).status_code == 200
    with db.session(write=True) as s:
        token_id = s.scalar(select(ApiToken.id).join(User, User.id == ApiToken.user_id)
                            .where(User.email == "revoked@shoe.example"))
        assert token_id is not None
        revoke_token(s, token_id)
        disable_user(s, "disabled@shoe.example")
    for token in (revoked, disabled):
        response = anon_api.get(f"{API}/customers", headers=bearer(token))
        assert_problem(response, 401)
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_used_token_records_when(anon_api: TestClient, db: Database) -> None:
    token = issue_token(db, "staff")
    anon_api.get(f"{API}/customers", headers=bearer(token))
    with db.session() as s:
        assert s.scalar(select(ApiToken.last_used_at)) is not None


def test_a_browser_session_does_not_open_the_api(anon_client: TestClient, db: Database) -> None:
    signed_in = sign_in_as(anon_client, db, "owner")
    assert signed_in.get("/customers").status_code == 200  # the pages work for this browser
    assert_problem(signed_in.get(f"{API}/customers"), 401)
    assert_problem(signed_in.post(f"{API}/customers", json=NEW_CUSTOMER), 401)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/customers", NEW_CUSTOMER),
    ("patch", "/customers/{ada}", {"city": "Paris"}),
    ("post", "/orders", {"external_id": "X-1", "placed_at": "2024-01-01T10:00:00Z",
                         "lines": [{"product_name": "Hat", "unit_price": "10.00"}]}),
    ("post", "/products", {"name": "Hat"}),
    ("patch", "/products/1", {"name": "Cap"}),
    ("post", "/products/1/variants", {"sku": "HAT-1"}),
    ("patch", "/products/1/variants/1", {"stock": 3}),
])
def test_staff_may_not_change_records_and_managers_may(api_as: Any, shop: Any, method: str, path: str,
                                                        body: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    manager = api_as("manager")
    made = manager.post(f"{API}/products", json={"name": "Boots", "variants": [{"sku": "B-1", "stock": 1}]})
    assert made.status_code == 201
    url = API + path.format(ada=shop.ada)
    with caplog.at_level(logging.WARNING):
        refused = getattr(api_as("staff"), method)(url, json=body)
    body_refused = assert_problem(refused, 403)
    assert "staff" in body_refused["detail"]
    assert "permission refused" in caplog.text and "role=staff" in caplog.text
    assert getattr(manager, method)(url, json=body).status_code in (200, 201)


def test_staff_may_read_everything_and_log_moments(api_as: Any, shop: Any) -> None:
    staff = api_as("staff")
    for path in ("/customers", f"/customers/{shop.ada}", "/orders", "/products", "/interactions", "/scores"):
        assert staff.get(API + path).status_code == 200, path
    logged = staff.post(f"{API}/interactions", json={"customer_id": shop.ada, "channel": "store", "kind": "question"})
    assert logged.status_code == 201, logged.text


def test_writes_need_no_csrf_token_and_pass_the_cross_site_guard(api_as: Any) -> None:
    owner = api_as("owner")
    assert "x-csrf-token" not in owner.headers
    created = owner.post(f"{API}/customers", json=NEW_CUSTOMER)  # no Origin, no Sec-Fetch-Site: a server client
    assert created.status_code == 201, created.text
    same_site = owner.post(f"{API}/customers", json=NEW_CUSTOMER, headers={"Sec-Fetch-Site": "same-origin"})
    assert same_site.status_code == 201  # e.g. the "Try it out" button of /docs


def test_a_cross_site_browser_write_is_refused_as_problem_json(api_as: Any) -> None:
    response = api_as("owner").post(f"{API}/customers", json=NEW_CUSTOMER,
                                    headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert_problem(response, 403)


def test_a_flood_of_bad_tokens_gets_429_but_a_good_token_still_works(api_app: FastAPI, db: Database) -> None:
    good = issue_token(db, "staff")
    with TestClient(api_app) as client:
        limit = api_app.state.session_policy.max_failures_per_address
        for _ in range(limit):
            assert client.get(f"{API}/customers", headers=bearer("rf_guess")).status_code == 401
        throttled = client.get(f"{API}/customers", headers=bearer("rf_guess"))
        assert_problem(throttled, 429)
        assert int(throttled.headers["retry-after"]) > 0
        assert client.get(f"{API}/customers", headers=bearer(good)).status_code == 200
