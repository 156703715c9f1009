"""Errors on /api paths: RFC 9457 problem details for every failure; hostile input is a 4xx naming the field."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse, Response

from ravingfans.db import Database, open_database
from ravingfans.web import create_app
from ravingfans.web.api.problems import dispatch, unexpected_problem
from apihelp import API, assert_problem, bearer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def test_every_error_is_problem_details_of_one_shape(owner: Any, api_as: Any, anon_api: Any, api_app: FastAPI,
                                                     db: Database, shop: Any) -> None:
    staff = api_as("staff")
    owner.post(f"{API}/orders", json={"external_id": "D-1", "placed_at": "2024-01-01T00:00:00Z",
                                      "lines": [{"unit_price": "1"}]})
    cases = [
        (anon_api.get(f"{API}/customers"), 401, "not_signed_in"),
        (staff.post(f"{API}/products", json={"name": "Hat"}), 403, "permission_denied"),
        (owner.get(f"{API}/customers/424242"), 404, "not_found"),
        (owner.get(f"{API}/no-such-thing"), 404, "not_found"),
        (owner.get("/api/v2/customers"), 404, "not_found"),
        (owner.delete(f"{API}/scores/{shop.ada}"), 405, "method_not_allowed"),  # scores are read only
        (owner.post(f"{API}/orders", json={"external_id": "D-1", "placed_at": "2024-01-01T00:00:00Z",
                                           "lines": [{"unit_price": "1"}]}), 409, "conflict"),
        (owner.post(f"{API}/customers", content=b"x" * 200_000, headers={"content-type": "application/json"}),
         413, "content_too_large"),
        (owner.post(f"{API}/customers", json={"email": "nope"}), 422, "validation_failed"),
        (owner.get(f"{API}/customers/abc"), 422, "validation_failed"),
    ]
    for _ in range(api_app.state.session_policy.max_failures_per_address):
        anon_api.get(f"{API}/customers", headers=bearer("rf_wrong"))
    cases.append((anon_api.get(f"{API}/customers", headers=bearer("rf_wrong")), 429, "too_many_attempts"))
    for response, status, code in cases:
        body = assert_problem(response, status)
        assert body["type"] == f"urn:ravingfans:problem:{code}", body
        assert PROBLEM_KEYS <= set(body) <= PROBLEM_KEYS | {"hint", "errors"}
        assert body["instance"].startswith("/api/")
        assert ("errors" in body) == (status == 422)
        for error in body.get("errors", []):
            assert set(error) == {"field", "message"} and error["field"] and error["message"]
    assert cases[0][0].headers["www-authenticate"].startswith("Bearer")
    assert cases[5][0].headers["allow"]
    assert int(cases[-1][0].headers["retry-after"]) > 0


def test_pages_keep_their_html_errors(client: Any) -> None:
    page = client.get("/customers/424242")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert client.get("/no-such-page").headers["content-type"].startswith("text/html")


def test_validation_errors_name_every_field_and_never_echo_input(owner: Any) -> None:
    response = owner.post(f"{API}/orders", json={"external_id": "<script>x</script>" * 20, "placed_at": "yesterday",
                                                 "lines": [{"quantity": -1, "unit_price": "free"}]})
    body = assert_problem(response, 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"external_id", "placed_at", "lines[0].quantity", "lines[0].unit_price"} <= fields
    assert "<script>" not in response.text and "yesterday" not in response.text


@pytest.mark.parametrize(("body", "field"), [
    ({"first_name": "nul\u0000byte"}, "first_name"),
    ({"first_name": "lone \ud800 surrogate"}, "first_name"),
    ({"first_name": "bell\u0007"}, "first_name"),
    ({"first_name": "A", "notes": "esc\u001b[31m"}, "notes"),
    ({"first_name": "A", "referred_by_id": 2**63}, "referred_by_id"),
    ({"first_name": "A", "referred_by_id": -1}, "referred_by_id"),
    ({"first_name": "A", "referred_by_id": 1.5}, "referred_by_id"),
    ({"first_name": "A", "birthday": "1850-01-01"}, "birthday"),
    ({"first_name": "A", "email_consent": "maybe"}, "email_consent"),
    ({"first_name": ["A"]}, "first_name"),
    ({"first_name": {"$ne": None}}, "first_name"),
    ({"first_name": "A", "likes": ["x"] * 101}, "likes"),
    ({"first_name": "A", "personal_details": {"": "empty key"}}, "personal_details"),
    ({"first_name": "A", "language": "en; DROP TABLE customers"}, "language"),
])
def test_hostile_bodies_are_422_naming_the_field(owner: Any, body: dict[str, Any], field: str) -> None:
    raw = json.dumps(body).encode()  # keeps a lone surrogate as \ud800, as a hostile client would send it
    response = owner.post(f"{API}/customers", content=raw, headers={"content-type": "application/json"})
    problem = assert_problem(response, 422)
    assert any(e["field"] == field or e["field"].startswith(field) for e in problem["errors"]), problem


@pytest.mark.parametrize(("content", "content_type"), [
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b"null", "application/json"),
    (b"first_name=Ada", "application/x-www-form-urlencoded"),
    (b"", "application/json"),
    (b"{" * 5000 + b"}" * 5000, "application/json"),
])
def test_bodies_that_are_not_a_json_object_are_422_naming_the_body(owner: Any, content: bytes,
                                                                   content_type: str) -> None:
    response = owner.post(f"{API}/customers", content=content, headers={"content-type": content_type})
    assert_problem(response, 422, "body")


@pytest.mark.parametrize("params", [
    {"q": "a\u0000b"}, {"q": "x" * 101}, {"segment": "\u0007"}, {"updated_since": "yesterday"},
    {"updated_since": "9999-12-31T23:59:59-23:59"}, {"cursor": "%00"}, {"limit": str(2**70)},
])
def test_hostile_query_parameters_are_422(owner: Any, params: dict[str, str]) -> None:
    response = owner.get(f"{API}/customers", params=params)
    assert_problem(response, 422, next(iter(params)))


@pytest.mark.parametrize("path", [f"{API}/customers/{2**31}", f"{API}/customers/{2**64}", f"{API}/customers/-1",
                                  f"{API}/customers/0", f"{API}/customers/1e3",
                                  f"{API}/products/1/variants/99999999999"])
def test_ids_no_row_can_have_are_4xx(owner: Any, path: str) -> None:
    assert_problem(owner.get(path), 422)


def test_unicode_that_is_fine_is_kept(owner: Any) -> None:
    made = owner.post(f"{API}/customers",
                      json={"first_name": "Zoë 😀", "last_name": "Ωmega", "notes": "tab\there\nline"})
    assert made.status_code == 201, made.text
    assert (made.json()["first_name"], made.json()["notes"]) == ("Zoë 😀", "tab\there\nline")


def test_a_bug_is_a_500_problem_without_internals_and_pages_keep_plain_text() -> None:
    def plain_server_error(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("Internal Server Error", status_code=500)

    app = FastAPI()
    app.add_exception_handler(Exception, dispatch(unexpected_problem, plain_server_error))

    @app.get("/api/v1/boom")
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/boom")
        page = client.get("/boom")
    body = assert_problem(response, 500)
    assert body["type"] == "urn:ravingfans:problem:server_error"
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert page.status_code == 500 and page.text == "Internal Server Error"


def test_a_vanished_database_is_a_503_problem(web_settings: Any, tmp_path: Any) -> None:
    gone = open_database(f"sqlite:///{tmp_path}/no/such/dir/x.db", check_schema=False)
    with TestClient(create_app(web_settings, database=gone)) as client:
        response = client.get(f"{API}/customers", headers=bearer("rf_anything"))
    body = assert_problem(response, 503)
    assert body["type"] == "urn:ravingfans:problem:database_error" and "sqlite" not in response.text.lower()
    gone.dispose()
