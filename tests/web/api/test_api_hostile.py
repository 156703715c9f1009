"""Hostile input to every operation of /openapi.json: each poisoned parameter or field is a 4xx naming it, never a 5xx.

Where the schemathesis test draws requests at random, this one sends, to every operation the document
lists, the inputs that have broken real servers: times at the ends of the calendar (with and without
a zone), NUL bytes, control characters and lone surrogates in every text, numbers no column can hold
(2**63, -2**63-1, 1e308, infinity), very long strings, the wrong JSON type for every field, empty
and non-UTF-8 bodies. It walks the document, so a new operation, parameter or field is attacked the
day it is added; an operation this file has no valid request for fails the suite.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ravingfans.db import Database
from ravingfans.db.models import Interaction, Order
from ravingfans.services.products import ProductCreate, create_product
from apihelp import bearer, issue_token, seed_scores

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

# ------------------------------------------------------------------------------------------- the hostile values

EXTREME_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00",
                 "9999-12-31T23:59:59", "1899-12-31T23:59:59Z", "2024-02-30T00:00:00Z", "2024-01-01T00:00:00+25:00"]
EXTREME_DATES = ["0001-01-01", "9999-12-31", "2024-02-30"]
HUGE_NUMBERS: list[Any] = [2**63, -2**63 - 1, 2**64, 1e308, -1e308, float("inf"), float("nan")]
CONTROL = ["nul\x00byte", "\x00", "bell\x07", "esc\x1b[31m", "del\x7fx", "c1\x85x", "lone \ud800 surrogate"]
LONG = "x" * 6000  # over every text column's limit, under the body limit
WRONG_SHAPES: list[Any] = [[], {}, ["a"], {"$ne": None}]

# Query and path values: what a URL can carry. Non-UTF-8 bytes are sent raw (percent-encoded).
QUERY_ALWAYS_BAD = ["nul\x00byte", "bell\x07", "esc\x1b", "x" * 10_000]
QUERY_SOMETIMES_BAD = [str(2**63), str(-2**63 - 1), "1e308", "-1", "0", "", "%FF%FE", *EXTREME_TIMES,
                       "9" * 5000]
HEADER_BAD = [b"x" * 256, "\u00fc".encode(), b"\xff\xfe", b"has space", b"\x7f", b"tab\there", b"\x01"]
PATH_BAD = [str(2**63), str(-2**63 - 1), str(2**64), "1e308", "0", "-1", "abc", "%00", "%07", "%FF", "9" * 5000,
            "1.5", "inf"]

# ------------------------------------------------------------------------------------------- valid requests

Ids = dict[str, int]
# operationId -> a valid body (a function of the test's row ids where it needs them); None for no body.
VALID_BODIES: dict[str, Callable[[Ids], dict[str, Any]] | None] = {
    "list_customers": None, "get_customer": None,
    "create_customer": lambda ids: {"first_name": "Valid"},
    "update_customer": lambda ids: {"city": "Paris"},
    "erase_customer": None,
    "list_orders": None, "get_order": None,
    "create_order": lambda ids: {"placed_at": "2024-01-01T00:00:00Z", "customer_id": ids["customer_id"],
                                 "lines": [{"unit_price": "1.00", "variant_id": ids["variant_id"]}]},
    "update_order": lambda ids: {"channel": "store"},
    "list_products": None, "get_product": None,
    "create_product": lambda ids: {"name": "Hat", "variants": [{"sku": "HOSTILE-1"}]},
    "update_product": lambda ids: {"brand": "Acme"},
    "add_variant": lambda ids: {"sku": "HOSTILE-2"},
    "get_variant": None,
    "update_variant": lambda ids: {"stock": 3},
    "list_interactions": None, "get_interaction": None,
    "log_interaction": lambda ids: {"customer_id": ids["customer_id"], "channel": "store", "kind": "other"},
    "update_interaction": lambda ids: {"rating": "magic"},
    "list_scores": None, "get_score": None,
}


_DOCUMENT: dict[str, Any] = {}


@pytest.fixture
def hostile(api_app: FastAPI, db: Database, shop: Any) -> Iterator[tuple[TestClient, dict[str, Any], Ids]]:
    """An owner's client, the OpenAPI document and the ids of rows every path can name."""
    with db.session(write=True) as s:
        product = create_product(s, ProductCreate(name="Boots", variants=[{"sku": "B-1"}]))
        ids = {"customer_id": shop.ada, "product_id": product.id, "variant_id": product.variants[0].id,
               "order_id": s.scalar(select(Order.id).limit(1)), "interaction_id": s.scalar(select(Interaction.id))}
    seed_scores(db, [shop.ada])
    with TestClient(api_app, headers=bearer(issue_token(db, "owner", "hostile-owner@shoe.example")),
                    follow_redirects=False) as client:
        if not _DOCUMENT:  # the same for every app: built once per process
            _DOCUMENT.update(client.get("/openapi.json").json())
        yield client, _DOCUMENT, ids


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every operation in the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _operation(document: dict[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    return next(op for op in operations(document) if op[2]["operationId"] == operation_id)


def _url(path: str, ids: Ids, override: dict[str, str] | None = None) -> str:
    for name, raw in (override or {}).items():
        path = path.replace("{" + name + "}", raw)
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    return path


# ------------------------------------------------------------------------------------------- schema walking


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema behind a $ref, and the non-null branch of an ``anyOf [X, null]``."""
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if branches:
        types = {b.get("type") for b in branches}
        if "number" in types:  # money: a number or a decimal string
            return {"type": "number"}
        return _resolve(document, branches[0])
    return schema


def _bad_values(document: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    """Values a field of this schema must refuse with a 422."""
    kind = schema.get("type")
    fmt = schema.get("format")
    if fmt == "date-time":
        return [*EXTREME_TIMES, *HUGE_NUMBERS, *CONTROL, LONG, *WRONG_SHAPES, True]
    if fmt == "date":
        return [*EXTREME_DATES, *HUGE_NUMBERS, *CONTROL, LONG, *WRONG_SHAPES]
    if kind == "string":
        return [*CONTROL, LONG, *HUGE_NUMBERS, *WRONG_SHAPES, True, 0]
    if kind in ("integer", "number"):
        return [*HUGE_NUMBERS, "9" * 5000, "12abc", *CONTROL, *EXTREME_TIMES[:1], *WRONG_SHAPES]
    if kind == "boolean":
        return ["maybe", 2**63, 1e308, *CONTROL, *WRONG_SHAPES]
    if kind == "object":
        return [{"\x00": "x"}, {"\ud800": "x"}, {"k" * 61: "x"}, {"k": "\x00"}, {"k": LONG}, {"k": 2**63},
                {"k": []}, {f"k{i}": "v" for i in range(1000)}, "text", [], 2**63]
    if kind == "array":
        item = _resolve(document, schema.get("items", {}))
        bad_items = [["\x00"], ["\ud800"], [LONG], [2**63], [[]]] if item.get("type") == "string" else [[1], ["x"]]
        return [*bad_items, ["a"] * 10_000, "text", {}, 2**63]
    return []


def _fields(document: dict[str, Any], schema: dict[str, Any], body: dict[str, Any],
            prefix: str = "") -> Iterator[tuple[str, Callable[[Any], dict[str, Any]], dict[str, Any]]]:
    """(field name as errors name it, a function putting a value there in a copy of ``body``, its schema).

    Goes into the first object of arrays of objects (``lines[0].unit_price``) when ``body`` has one.
    """
    for name, raw in _resolve(document, schema).get("properties", {}).items():
        field = _resolve(document, raw)

        def put(value: Any, name: str = name) -> dict[str, Any]:
            return {**body, name: value}

        yield prefix + name, put, field
        items = _resolve(document, field.get("items", {})) if field.get("type") == "array" else {}
        nested = body.get(name)
        if items.get("properties") and isinstance(nested, list) and nested and isinstance(nested[0], dict):
            for sub, sub_put, sub_field in _fields(document, items, nested[0], f"{prefix}{name}[0]."):

                def put_nested(value: Any, name: str = name, sub_put: Any = sub_put) -> dict[str, Any]:
                    return {**body, name: [sub_put(value), *body[name][1:]]}

                yield sub, put_nested, sub_field


# ------------------------------------------------------------------------------------------- checks


def _problem(answer: Any, field: str | None) -> str | None:
    """What is wrong with an answer to hostile input (None when it is right): a 4xx problem naming ``field``."""
    if answer.status_code >= 500:
        return f"server error {answer.status_code}: {answer.text[:300]}"
    if answer.status_code < 400:
        return f"accepted with {answer.status_code}" if field is not None else None
    if answer.headers.get("content-type") != "application/problem+json":
        return f"{answer.status_code} is not problem JSON: {answer.headers.get('content-type')}"
    body = answer.json()
    if not {"type", "title", "status", "detail"} <= set(body) or body["status"] != answer.status_code:
        return f"not problem details: {body}"
    if field is None:
        return None
    if answer.status_code != 422:
        return f"{answer.status_code} instead of 422: {body['detail'][:200]}"
    named = [e["field"] for e in body.get("errors", [])]
    if not any(n == field or n.startswith((field + ".", field + "[")) for n in named):
        return f"422 names {named}, not {field}"
    return None


def _loose(answer: Any, field: str) -> str | None:
    """For input that may be fine: no 5xx, problem JSON for a 4xx, and a 422 names ``field``."""
    why = _problem(answer, None)
    return why if why is not None or answer.status_code != 422 else _problem(answer, field)


def _send(client: TestClient, method: str, url: str, body: Any = None, raw: bytes | None = None) -> Any:
    content = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"content-type": "application/json"} if content is not None else {}
    return client.request(method, url, content=content, headers=headers)


def test_every_operation_has_a_valid_request(hostile: tuple[TestClient, dict[str, Any], Ids]) -> None:
    """The valid requests the attacks start from cover the document, and each really is valid."""
    client, document, ids = hostile
    listed = {op["operationId"] for _, _, op in operations(document)}
    assert listed == set(VALID_BODIES), (sorted(listed - set(VALID_BODIES)), sorted(set(VALID_BODIES) - listed))
    for method, path, operation in sorted(operations(document), key=lambda op: op[0] == "DELETE"):  # erase last
        make = VALID_BODIES[operation["operationId"]]
        assert (make is None) == ("requestBody" not in operation), operation["operationId"]
        answer = _send(client, method, _url(path, ids), make(ids) if make else None)
        assert answer.status_code in (200, 201, 204), (operation["operationId"], answer.text)


@pytest.mark.parametrize("operation_id", sorted(VALID_BODIES))
def test_hostile_parameters_are_a_4xx_naming_them(hostile: tuple[TestClient, dict[str, Any], Ids],
                                                  operation_id: str) -> None:
    client, document, ids = hostile
    method, path, operation = _operation(document, operation_id)
    make = VALID_BODIES[operation_id]
    failures: list[str] = []
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        kind = _resolve(document, parameter["schema"])
        if where == "path":
            for raw in PATH_BAD:
                url = _url(path, ids, {name: raw if "%" in raw else quote(raw, safe="")})
                answer = _send(client, method, url, make(ids) if make else None)
                if (why := _problem(answer, name)) is not None:
                    failures.append(f"{method} {url[:80]}: {why}")
        elif where == "query":
            typed = kind.get("type") != "string" or "format" in kind or "enum" in kind
            for raw in QUERY_ALWAYS_BAD + QUERY_SOMETIMES_BAD:  # typed: only 0, -1 and "" may be fine (1970, false)
                always = raw in QUERY_ALWAYS_BAD or typed and raw not in ("", "0", "-1")
                encoded = raw if raw.startswith("%") else quote(raw, safe="")
                url = f"{_url(path, ids)}?{name}={encoded}"
                answer = _send(client, method, url)
                if (why := _problem(answer, name) if always else _loose(answer, name)) is not None:
                    failures.append(f"{method} ?{name}={raw[:40]!r}: {why}")
        elif where == "header":
            for value in HEADER_BAD:
                answer = client.request(method, _url(path, ids), content=json.dumps(make(ids) if make else {}).encode(),
                                        headers={name: value, "content-type": "application/json"})
                if (why := _problem(answer, name)) is not None:
                    failures.append(f"{method} {name}: {value[:40]!r}: {why}")
    assert not failures, ascii("\n".join(failures))


BODY_OPERATIONS = sorted(name for name, make in VALID_BODIES.items() if make is not None)


@pytest.mark.parametrize("operation_id", BODY_OPERATIONS)
def test_hostile_fields_are_a_422_naming_them(hostile: tuple[TestClient, dict[str, Any], Ids],
                                              operation_id: str) -> None:
    client, document, ids = hostile
    method, path, operation = _operation(document, operation_id)
    make = VALID_BODIES[operation_id]
    assert make is not None
    valid = make(ids)
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    failures: list[str] = []
    fields = list(_fields(document, schema, valid))
    assert fields, operation_id
    for field, put, field_schema in fields:
        for value in _bad_values(document, field_schema):
            answer = _send(client, method, _url(path, ids), put(value))
            if (why := _problem(answer, field)) is not None:
                failures.append(f"{field}={json.dumps(value)[:60]}: {why}")
    for field, put, field_schema in fields:  # text that grows when normalised (İ lower-cases to i + a dot)
        if field_schema.get("type") == "string" and "maxLength" in field_schema and "format" not in field_schema:
            answer = _send(client, method, _url(path, ids), put("\u0130" * field_schema["maxLength"]))
            if (why := _loose(answer, field)) is not None:
                failures.append(f"{field}=İ x {field_schema['maxLength']}: {why}")
    for name in ("\x00", "\ud800", "x" * 1000, "", "__proto__"):  # fields no model has
        answer = _send(client, method, _url(path, ids), {**valid, name: 1})
        if (why := _problem(answer, name)) is not None and _problem(answer, "body") is not None:
            failures.append(f"unknown field {name[:20]!r}: {why}")  # a name JSON cannot carry back: the body
    assert not failures, ascii("\n".join(failures))


NOT_AN_OBJECT = [b"", b"\xff\xfe\x00\x81", b"\xc3\x28", b'{"name": "\xff"}', b"null", b"[]", b"42", b'"text"', b"true",
                 b"{", b"{}" * 3, b"{" * 5000 + b"}" * 5000, b"[" * 60000 + b"]" * 60000,
                 '{"name": "Ada"}'.encode("utf-16")[:-1]]
NUMBERS_NO_FIELD_HOLDS = [b'{"a": 1e999999}', b'{"a": ' + b"9" * 5000 + b"}", b'{"a": -Infinity}', b'{"a": NaN}']


@pytest.mark.parametrize("operation_id", BODY_OPERATIONS)
def test_bodies_that_are_not_a_json_object_are_a_422_naming_the_body(
        hostile: tuple[TestClient, dict[str, Any], Ids], operation_id: str) -> None:
    client, document, ids = hostile
    method, path, _ = _operation(document, operation_id)
    failures = []
    for raw in NOT_AN_OBJECT:
        if (why := _problem(_send(client, method, _url(path, ids), raw=raw), "body")) is not None:
            failures.append(f"{raw[:30]!r}: {why}")
    for raw in NUMBERS_NO_FIELD_HOLDS:  # in a field no model has: named, or the body when it cannot be read
        answer = _send(client, method, _url(path, ids), raw=raw)
        if (why := _problem(answer, "a")) is not None and _problem(answer, "body") is not None:
            failures.append(f"{raw[:30]!r}: {why}")
    assert not failures, ascii("\n".join(failures))


def test_an_e_mail_that_lengthens_when_lower_cased_is_a_422_not_a_database_error(
        hostile: tuple[TestClient, dict[str, Any], Ids]) -> None:
    """U+0130 lower-cases to two characters: 200 of them passed the 254 limit as sent and broke it as stored."""
    client, _, ids = hostile
    for address in ("\u0130" * 200 + "@x.de", "a@" + "\u0130" * 200 + ".de"):
        for method, path in (("POST", "/api/v1/customers"), ("PATCH", f"/api/v1/customers/{ids['customer_id']}")):
            assert _problem(_send(client, method, path, {"email": address}), "email") is None
    made = _send(client, "POST", "/api/v1/customers", {"email": "\u0130" * 100 + "@x.de"})
    assert made.status_code == 201 and made.json()["email"] == "i\u0307" * 100 + "@x.de"
