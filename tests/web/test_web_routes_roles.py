"""Every route × {anonymous, staff, manager, owner}: the status each gets, declared in one table.

A route the app serves that is missing from :data:`EXPECTED` fails the suite, so no page or API
call can be added without deciding who may use it. Writes are sent with a valid CSRF token (pages)
or a bearer token (API), so what is checked here is the role rule alone.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from signin import sign_in_as
from sqlalchemy import select

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Interaction, Note, Order, Product, ProductVariant, Survey, SurveyQuestion, User
from ravingfans.services.accounts import create_token
from ravingfans.services.products import ProductCreate, create_product
from ravingfans.services.scoring import score_database
from ravingfans.services.surveys import default_survey
from ravingfans.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROLES = ("anonymous", "staff", "manager", "owner")
PAGE = (303, 200, 200, 200)  # a page every signed-in user may open; strangers go to the sign-in form
STAFF_WRITE = (401, 303, 303, 303)  # a form any signed-in user may send
MANAGER_WRITE = (401, 403, 303, 303)
OWNER_PAGE = (303, 403, 403, 200)
OWNER_WRITE = (401, 403, 403, 303)
MANAGER_PAGE = (303, 403, 200, 200)
OPEN = (200, 200, 200, 200)
API_READ = (401, 200, 200, 200)
API_STAFF_CREATE = (401, 201, 201, 201)
API_MANAGER_CREATE = (401, 403, 201, 201)
API_MANAGER_UPDATE = (401, 403, 200, 200)
NEW_PASSWORD = "tuba quartz meadow sparrow"

# (method, path template) -> (status for anonymous, staff, manager, owner), and the request to send.
EXPECTED: dict[tuple[str, str], tuple[tuple[int, int, int, int], dict[str, Any]]] = {
    ("GET", "/login"): (OPEN, {}),
    ("POST", "/login"): ((403, 403, 403, 403), {"data": {"email": "x@y.example", "password": "x"}}),
    ("POST", "/logout"): ((303, 303, 303, 303), {}),  # without a session there is nothing to end: to the form
    ("GET", "/healthz"): (OPEN, {}),
    # Public: the link's token is the authority; a made-up one is 404 for everyone (tests/web/test_web_unsubscribe.py).
    ("GET", "/unsubscribe/{token}"): ((404, 404, 404, 404), {}),
    ("POST", "/unsubscribe/{token}"): ((404, 404, 404, 404), {}),
    # Public survey page: the same; a signed-in session changes nothing (tests/web/test_web_public_survey.py).
    ("GET", "/s/{token}"): ((404, 404, 404, 404), {}),
    ("GET", "/s/{token}/thanks"): ((404, 404, 404, 404), {}),
    ("POST", "/s/{token}"): ((404, 404, 404, 404), {"data": {"q1": "9"}}),
    ("GET", "/"): (PAGE, {}),
    ("GET", "/customers"): (PAGE, {}),
    ("GET", "/customers/{customer_id}"): (PAGE, {}),
    ("POST", "/customers/{customer_id}/notes"): (STAFF_WRITE, {"data": {"body": "Asked about boots"}}),
    ("POST", "/customers/{customer_id}/interactions"): (
        STAFF_WRITE, {"data": {"channel": "store", "kind": "other", "rating": "magic"}}),
    ("GET", "/fans"): (PAGE, {}),
    ("GET", "/slipping"): (PAGE, {}),
    ("POST", "/slipping/{customer_id}/call"): (STAFF_WRITE, {"data": {"rating": "magic"}}),
    ("POST", "/slipping/{customer_id}/note"): (STAFF_WRITE, {"data": {"body": "Left a message"}}),
    ("GET", "/team"): (PAGE, {}),
    ("GET", "/search"): (PAGE, {"params": {"q": "ada"}}),
    ("GET", "/fans.csv"): (MANAGER_PAGE, {}),
    ("GET", "/customers/{customer_id}/edit"): (MANAGER_PAGE, {}),
    ("POST", "/customers/{customer_id}/edit"): (
        MANAGER_WRITE, {"data": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}}),
    ("POST", "/customers/{customer_id}/notes/{note_id}"): (  # the seeded note of Ada
        MANAGER_WRITE, {"data": {"body": "Ask about the poetry reading (Thursday)"}}),
    # Erasing Ada: the owner's request is sent last, so the others are refused while she still exists.
    ("GET", "/customers/{customer_id}/erase"): (OWNER_PAGE, {}),
    ("POST", "/customers/{customer_id}/erase"): (
        OWNER_WRITE, {"data": lambda _role, ids: {"confirm": str(ids["customer_id"])}}),
    ("GET", "/settings"): (OWNER_PAGE, {}),
    ("POST", "/settings"): (OWNER_WRITE, {"data": {"business_name": "Shoe & Co", "business_address": "1 Main St",
                                                    "time_zone": "Asia/Tokyo", "currency": "EUR"}}),
    # Users: owners only. {user_id} is the staff user; the owner's request is sent last, so the staff client
    # has made its own request before the owner changes its password or disables it.
    ("GET", "/users"): (OWNER_PAGE, {}),
    ("POST", "/users"): (OWNER_WRITE, {"data": lambda role, _ids: {
        "email": f"new-{role}@roles.example", "role": "staff", "password": NEW_PASSWORD,
        "password_repeat": NEW_PASSWORD}}),
    ("POST", "/users/{user_id}/role"): (OWNER_WRITE, {"data": {"role": "manager"}}),
    ("POST", "/users/{user_id}/password"): (
        OWNER_WRITE, {"data": {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD}}),
    ("POST", "/users/{user_id}/disable"): (OWNER_WRITE, {}),
    ("POST", "/users/{user_id}/enable"): (OWNER_WRITE, {}),
    # The REST API: bearer tokens, no cookies; staff read and log moments, managers also create and change.
    ("GET", "/openapi.json"): (OPEN, {}),
    ("GET", "/docs"): (OPEN, {}),
    ("GET", "/api/v1/customers"): (API_READ, {}),
    ("GET", "/api/v1/customers/{customer_id}"): (API_READ, {}),
    ("POST", "/api/v1/customers"): (API_MANAGER_CREATE, {"json": {"first_name": "Mary"}}),
    ("PATCH", "/api/v1/customers/{customer_id}"): (API_MANAGER_UPDATE, {"json": {"city": "Paris"}}),
    ("DELETE", "/api/v1/customers/{customer_id}"): ((401, 403, 403, 204), {}),  # owners erase; sent last
    ("GET", "/api/v1/orders"): (API_READ, {}),
    ("GET", "/api/v1/orders/{order_id}"): (API_READ, {}),
    ("PATCH", "/api/v1/orders/{order_id}"): (API_MANAGER_UPDATE, {"json": {"financial_status": "paid"}}),
    ("POST", "/api/v1/orders"): (
        API_MANAGER_CREATE, {"json": {"placed_at": "2024-01-01T00:00:00Z", "lines": [{"unit_price": "1.00"}]}}),
    ("GET", "/api/v1/products"): (API_READ, {}),
    ("GET", "/api/v1/products/{product_id}"): (API_READ, {}),
    ("POST", "/api/v1/products"): (API_MANAGER_CREATE, {"json": {"name": "Hat"}}),
    ("PATCH", "/api/v1/products/{product_id}"): (API_MANAGER_UPDATE, {"json": {"brand": "Acme"}}),
    ("POST", "/api/v1/products/{product_id}/variants"): (
        API_MANAGER_CREATE, {"json": lambda role, _ids: {"sku": f"HAT-{role}"}}),
    ("GET", "/api/v1/products/{product_id}/variants/{variant_id}"): (API_READ, {}),
    ("PATCH", "/api/v1/products/{product_id}/variants/{variant_id}"): (API_MANAGER_UPDATE, {"json": {"stock": 2}}),
    ("GET", "/api/v1/interactions"): (API_READ, {}),
    ("GET", "/api/v1/interactions/{interaction_id}"): (API_READ, {}),
    ("PATCH", "/api/v1/interactions/{interaction_id}"): (API_MANAGER_UPDATE, {"json": {"rating": "mediocre"}}),
    ("POST", "/api/v1/interactions"): (
        API_STAFF_CREATE, {"json": lambda _role, ids: {"customer_id": ids["customer_id"], "channel": "store",
                                                        "kind": "other"}}),
    ("GET", "/api/v1/scores"): (API_READ, {}),
    ("GET", "/api/v1/scores/{customer_id}"): (API_READ, {}),
    # Surveys (staff pages): everyone reads; managers build, open, close, send and analyse; staff enter answers.
    ("GET", "/surveys"): (PAGE, {}),
    ("GET", "/surveys/new"): (MANAGER_PAGE, {}),
    ("POST", "/surveys"): (MANAGER_WRITE, {"data": {"name": "Boots", "title": "Boots?", "q1_kind": "nps",
                                                    "q1_prompt": "How are we doing?"}}),
    ("GET", "/surveys/{survey_id}"): (PAGE, {}),
    ("POST", "/surveys/{survey_id}/open"): (MANAGER_WRITE, {}),
    ("POST", "/surveys/{survey_id}/close"): (MANAGER_WRITE, {}),
    ("POST", "/surveys/{survey_id}/send/preview"): ((401, 403, 200, 200), {"data": {"audience": "fans"}}),
    ("POST", "/surveys/{survey_id}/send"): (MANAGER_WRITE, {"data": {"audience": "fans", "confirm": "yes"}}),
    ("GET", "/surveys/results"): (PAGE, {}),
    ("POST", "/surveys/analyse"): (MANAGER_WRITE, {}),
    ("POST", "/customers/{customer_id}/survey-invitation"): (MANAGER_WRITE, {"data": lambda _role, ids: {
        "survey_id": str(ids["survey_id"])}}),
    ("POST", "/customers/{customer_id}/survey-link"): ((401, 200, 200, 200), {"data": lambda _role, ids: {
        "survey_id": str(ids["survey_id"])}}),
    ("POST", "/customers/{customer_id}/survey-answers"): (STAFF_WRITE, {"data": lambda _role, ids: {
        "survey_id": str(ids["survey_id"]), "channel": "store", f"q{ids['question_id']}": "9"}}),
    # #6 tasks and rules
    # Tasks: every signed-in user works them (done a second time is "already done": a 303 too); managers tune rules.
    ("GET", "/tasks"): (PAGE, {}),
    ("GET", "/tasks/queue"): (PAGE, {}),
    ("POST", "/tasks/{task_id}/done"): (STAFF_WRITE, {"data": {"rating": "magic", "note": "Called"}}),
    ("POST", "/tasks/{task_id}/snooze"): (STAFF_WRITE, {"data": {"days": "7"}}),
    ("POST", "/tasks/{task_id}/reassign"): (STAFF_WRITE, {"data": {"employee_id": ""}}),
    ("POST", "/tasks/{task_id}/dismiss"): (STAFF_WRITE, {}),
    ("GET", "/rules"): (PAGE, {}),
    ("POST", "/rules/{rule}"): (MANAGER_WRITE, {"data": {"enabled": "on", "days": "14"}}),
    # #6 campaigns and gifts
    # Everyone reads campaigns and gifts and records a redemption; managers keep the catalog and make, start and
    # close campaigns. {campaign_id} is a running campaign with Ada treated: starting it again, closing it a second
    # time and recording her redemption twice are harmless no-ops, so every allowed role gets the same answer.
    ("GET", "/campaigns"): (PAGE, {}),
    ("GET", "/campaigns/new"): (MANAGER_PAGE, {}),
    ("POST", "/campaigns"): (MANAGER_WRITE, {"data": lambda role, ids: {
        "name": f"Back {role}", "kind": "win_back", "gift_id": str(ids["gift_id"]), "slipping": "yes",
        "delivery": "task"}}),
    ("GET", "/campaigns/{campaign_id}"): (PAGE, {}),
    ("POST", "/campaigns/{campaign_id}/preview"): ((401, 403, 200, 200), {}),
    ("POST", "/campaigns/{campaign_id}/start"): (MANAGER_WRITE, {"data": {"confirm": "yes"}}),
    ("POST", "/campaigns/{campaign_id}/close"): (MANAGER_WRITE, {}),
    ("POST", "/campaigns/{campaign_id}/redemptions"): (STAFF_WRITE, {"data": lambda _role, ids: {
        "customer_id": str(ids["customer_id"])}}),
    ("GET", "/gifts"): (PAGE, {}),
    ("POST", "/gifts"): (MANAGER_WRITE, {"data": lambda role, _ids: {"name": f"Gift {role}", "kind": "voucher",
                                                                     "value": "5"}}),
    ("POST", "/gifts/{gift_id}/retire"): (MANAGER_WRITE, {}),
    # #6 back in stock and holds
    # Everyone sees the holds, releases one and notes or cancels a customer's wait (releasing or cancelling twice is a
    # harmless no-op); managers set stock and tell waiting customers now. {hold_id}/{wait_id}: Ada's, seeded below.
    ("GET", "/holds"): (PAGE, {}),
    ("POST", "/holds/{hold_id}/release"): (STAFF_WRITE, {}),
    ("POST", "/stock"): (MANAGER_WRITE, {"data": {"sku": "B-1", "stock": "3"}}),
    ("POST", "/restocks/notify"): (MANAGER_WRITE, {}),
    ("POST", "/customers/{customer_id}/waits"): (STAFF_WRITE, {"data": {"sku": "B-1", "want_hold": "yes"}}),
    ("POST", "/customers/{customer_id}/waits/{wait_id}/cancel"): (STAFF_WRITE, {}),
    # #6 word of mouth
    ("GET", "/advocates"): (PAGE, {}),
    ("GET", "/advocates.csv"): (MANAGER_PAGE, {}),
    ("POST", "/customers/{customer_id}/mentions"): (STAFF_WRITE, {"data": {"kind": "review", "where": "Google"}}),
    ("POST", "/mentions/{mention_id}/edit"): (MANAGER_WRITE, {"data": {"kind": "press", "where": "Gazette"}}),
    ("POST", "/mentions/{mention_id}/delete"): (MANAGER_WRITE, {}),  # a second delete changes nothing: 303 too
}


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app answers, through included routers (HEAD and static left out)."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:  # FastAPI keeps included routers as one wrapped route
                yield from walk(included.routes, prefix + route.include_context.prefix)
                continue
            path = prefix + getattr(route, "path", "")
            if path.startswith("/static") or not getattr(route, "methods", None):
                continue
            for method in sorted(route.methods - {"HEAD"}):
                yield method, re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", path)

    yield from walk(list(app.routes), "")


@pytest.fixture
def clients(web_settings: Settings, shop: Any, db: Database) -> Iterator[dict[str, TestClient]]:
    """One client per role, each with its own session (and an API token for the API)."""
    made: dict[str, TestClient] = {}
    with db.session(write=True) as s:
        create_product(s, ProductCreate(name="Boots", variants=[{"sku": "B-1"}]))
    score_database(db.engine, web_settings)  # so the scores API has a run to answer from
    # #6 seed rows: tasks and rules
    from datetime import date as task_day  # noqa: PLC0415 - this part's seed rows only

    from ravingfans.services.tasks import create_task  # noqa: PLC0415

    with db.session(write=True) as s:  # a call about Ada, due long ago
        create_task(s, dedupe_key="roles:task", customer_id=shop.ada, rule="manual", kind="call", reason="Roles",
                    script="", due_on=task_day(2024, 1, 1))
    # #6 seed rows: campaigns and gifts
    with db.session(write=True) as s:  # a running campaign with Ada in its treated group
        from ravingfans.db.models import CampaignMember
        from ravingfans.services.campaigns import create_campaign, load_campaign, window_end
        from ravingfans.services.gifts import add_gift

        seeded = create_campaign(s, web_settings, name="Roles", kind="win_back", slipping=True, delivery="task",
                                 gift_id=add_gift(s, name="Roles gift", kind="voucher", value="10").id)
        running = load_campaign(s, seeded.id)
        running.status, running.started_at = "running", seeded.created_at
        running.ends_at = window_end(seeded.created_at, running.window_days, web_settings)
        s.add(CampaignMember(campaign_id=seeded.id, customer_id=shop.ada, group="treated",
                             assigned_at=seeded.created_at, delivery_note="task for staff"))
    # #6 seed rows: back in stock and holds
    from datetime import UTC, datetime

    from ravingfans.db.models.stock import Hold, StockWait

    with db.session(write=True) as s:  # Ada waits for B-1 and has one held
        boots = s.scalar(select(ProductVariant.id).where(ProductVariant.sku == "B-1"))
        at = datetime(2024, 6, 1, tzinfo=UTC)
        s.add(StockWait(customer_id=shop.ada, variant_id=boots, source="store", want_hold=True, created_at=at))
        s.add(Hold(customer_id=shop.ada, variant_id=boots, quantity=1, created_at=at,
                   expires_at=at.replace(year=2999)))
    # #6 seed rows: word of mouth
    from ravingfans.services import word_of_mouth as wom  # noqa: PLC0415 - this part's seed rows only

    with db.session(write=True) as s:
        wom.add_mention(s, shop.ada, wom.parse_mention({"kind": "review", "where": "Google"}))
    for role in ROLES:
        client = TestClient(create_app(web_settings), follow_redirects=False)
        client.__enter__()
        if role != "anonymous":
            sign_in_as(client, db, role, f"{role}@roles.example")
            with db.session(write=True) as s:
                client.headers["authorization"] = "Bearer " + create_token(s, f"{role}@roles.example", "t").token
        made[role] = client
    yield made
    for client in made.values():
        client.__exit__(None, None, None)


def test_every_route_is_in_the_table(web_settings: Settings, shop: Any) -> None:
    served = set(app_routes(create_app(web_settings)))
    missing = sorted(served - set(EXPECTED))
    stale = sorted(set(EXPECTED) - served)
    assert missing == [], f"routes without a declared status per role: {missing}"
    assert stale == [], f"routes in the table the app no longer serves: {stale}"


def _fill(path: str, ids: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), ids["id"])), path)


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_each_role_gets_its_declared_status(clients: dict[str, TestClient], db: Database, shop: Any,
                                            method: str, path: str) -> None:
    statuses, request = EXPECTED[(method, path)]
    with db.session(write=True) as s:
        default_survey(s)  # made by migration 0009, but PostgreSQL test databases are emptied of seed rows too
    with db.session() as s:
        ids = {"customer_id": shop.ada, "id": shop.ada,
               "order_id": s.scalar(select(Order.id).where(Order.customer_id == shop.ada).limit(1)),
               "interaction_id": s.scalar(select(Interaction.id).where(Interaction.customer_id == shop.ada)),
               "product_id": s.scalar(select(Product.id).limit(1)),
               "variant_id": s.scalar(select(ProductVariant.id).limit(1)),
               "note_id": s.scalar(select(Note.id).where(Note.customer_id == shop.ada).limit(1)),
               "user_id": s.scalar(select(User.id).where(User.email == "staff@roles.example")),
               "survey_id": s.scalar(select(Survey.id).where(Survey.key == "default")),
               "question_id": s.scalar(select(SurveyQuestion.id).join(Survey).where(Survey.key == "default",
                                                                                    SurveyQuestion.kind == "nps"))}
        # #6 ids: tasks and rules
        from ravingfans.db.models import Task  # noqa: PLC0415 - this part's ids only

        ids["task_id"] = s.scalar(select(Task.id).where(Task.dedupe_key == "roles:task"))
        ids["rule"] = "courtesy_call"  # type: ignore[assignment]
        # #6 ids: campaigns and gifts
        from ravingfans.db.models import Campaign, Gift

        ids["campaign_id"] = s.scalar(select(Campaign.id).where(Campaign.name == "Roles"))
        ids["gift_id"] = s.scalar(select(Gift.id).where(Gift.name == "Roles gift"))
        # #6 ids: back in stock and holds
        from ravingfans.db.models.stock import Hold, StockWait

        ids["wait_id"] = s.scalar(select(StockWait.id).where(StockWait.customer_id == shop.ada).limit(1))
        ids["hold_id"] = s.scalar(select(Hold.id).where(Hold.customer_id == shop.ada).limit(1))
        # #6 ids: word of mouth
        from ravingfans.services.word_of_mouth import list_mentions  # noqa: PLC0415 - this part's ids only

        ids["mention_id"] = list_mentions(s, customer_id=shop.ada)[0].id
    got = []
    for role in ROLES:
        sent = {key: value(role, ids) if callable(value) else value for key, value in request.items()}
        answer = clients[role].request(method, _fill(path, ids), **sent)
        got.append(answer.status_code)
    assert tuple(got) == statuses, dict(zip(ROLES, got, strict=True))

