"""Signing in and out over the app: the form and its token, cookies, rotation, revocation, throttling, logs."""

from __future__ import annotations

import logging
import re
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from signin import PASSWORD, add_account, sign_in_as
from sqlalchemy import event, func, select

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import LoginFailure, WebSession
from ravingfans.services.accounts import disable_user
from ravingfans.web import create_app
from ravingfans.web.auth import SESSION_COOKIE
from ravingfans.web.pages.login import safe_next

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def login_token(client: TestClient) -> str:
    """GET the sign-in form; the token its hidden field carries."""
    form = client.get("/login")
    assert form.status_code == 200
    found = re.search(r'action="/login"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"', form.text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next_: str = "/") -> Any:
    """POST the sign-in form with a fresh token."""
    return client.post("/login", data={"email": email, "password": password, "csrf_token": login_token(client),
                                       "next": next_})


def sessions_of(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_pages_send_strangers_to_the_sign_in_form_and_back(anon_client: TestClient, db: Database) -> None:
    email = add_account(db, "staff")
    page = anon_client.get("/customers?q=ada")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fcustomers%3Fq%3Dada"
    assert anon_client.post("/customers/1/notes", data={"body": "x"}).status_code == 401
    answer = sign_in(anon_client, email, next_="/customers?q=ada")
    assert answer.status_code == 303 and answer.headers["location"] == "/customers?q=ada"
    assert anon_client.get("/customers?q=ada").status_code == 200


def test_session_cookie_is_random_httponly_lax_and_only_its_hash_is_stored(anon_client: TestClient,
                                                                          db: Database) -> None:
    email = add_account(db, "staff")
    answer = sign_in(anon_client, email)
    cookie = answer.headers["set-cookie"]
    token = anon_client.cookies[SESSION_COOKIE]
    assert len(token) >= 43  # 32 random bytes, URL-safe base64: 256 bits
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    with db.session() as s:
        stored = s.scalars(select(WebSession.id)).all()
    assert len(stored) == 1 and token not in stored and len(stored[0]) == 64


def test_cookie_is_secure_over_https(web_settings: Settings, shop: Any, db: Database) -> None:
    email = add_account(db, "staff")
    with TestClient(create_app(web_settings), base_url="https://shop.example", follow_redirects=False) as client:
        answer = sign_in(client, email)
    assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]


def test_signing_in_rotates_the_session_and_signing_out_revokes_it(anon_client: TestClient, db: Database) -> None:
    email = add_account(db, "staff")
    sign_in(anon_client, email)
    first = anon_client.cookies[SESSION_COOKIE]
    sign_in(anon_client, email)  # signing in again on the same browser replaces the session
    second = anon_client.cookies[SESSION_COOKIE]
    assert second != first and sessions_of(db) == 1
    anon_client.cookies.delete(SESSION_COOKIE)  # one cookie of the name, as a browser holds it
    anon_client.cookies.set(SESSION_COOKIE, first)
    assert anon_client.get("/").status_code == 303  # the old secret opens nothing

    anon_client.cookies.delete(SESSION_COOKIE)
    anon_client.cookies.set(SESSION_COOKIE, second)
    home = anon_client.get("/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert home.status_code == 200 and csrf is not None
    assert anon_client.post("/logout").status_code == 403  # no token: refused, still signed in
    assert sessions_of(db) == 1
    out = anon_client.post("/logout", data={"csrf_token": csrf.group(1)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert sessions_of(db) == 0
    anon_client.cookies.set(SESSION_COOKIE, second)  # a copy of the cookie kept by an attacker
    assert anon_client.get("/").status_code == 303


def test_disabling_a_user_ends_their_sessions(client_as: Any, db: Database) -> None:
    staff, manager = client_as("staff"), client_as("manager")
    assert staff.get("/").status_code == 200
    with db.session(write=True) as s:
        disable_user(s, "staff1@shoe.example")
    assert staff.get("/").status_code == 303
    assert manager.get("/").status_code == 200 and sessions_of(db) == 1  # only the disabled user's ended


def test_wrong_passwords_get_one_message_and_no_session(anon_client: TestClient, db: Database) -> None:
    email = add_account(db, "staff")
    for who, password in ((email, "wrong horse battery"), ("nobody@shoe.example", PASSWORD)):
        answer = sign_in(anon_client, who, password)
        assert answer.status_code == 400
        assert "do not match an active account" in answer.text
        assert SESSION_COOKIE not in anon_client.cookies
    assert sessions_of(db) == 0


def test_sign_in_form_needs_its_own_token(anon_client: TestClient, db: Database) -> None:
    email = add_account(db, "staff")
    login_token(anon_client)
    bare = anon_client.post("/login", data={"email": email, "password": PASSWORD})
    forged = anon_client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": "0" * 64})
    assert bare.status_code == forged.status_code == 403
    assert sessions_of(db) == 0


def test_too_many_failures_for_an_account_get_429_with_retry_after(anon_client: TestClient, db: Database) -> None:
    email = add_account(db, "staff")
    for _ in range(5):
        assert sign_in(anon_client, email, "wrong horse battery").status_code == 400
    held = sign_in(anon_client, email)  # even the right password waits
    assert held.status_code == 429
    assert 1 <= int(held.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-ins for this account" in held.text
    assert sessions_of(db) == 0
    other = add_account(db, "staff", "other@shoe.example")
    assert sign_in(anon_client, other).status_code == 303  # other accounts from here still work


def test_too_many_failures_from_an_address_get_429(web_settings: Settings, shop: Any, db: Database) -> None:
    settings = web_settings.model_copy(update={"login_max_failures_per_address": 3})
    email = add_account(db, "staff")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        for n in range(3):
            assert sign_in(client, f"guess{n}@shoe.example", "wrong horse battery").status_code == 400
        held = sign_in(client, email)
    assert held.status_code == 429 and "from this address" in held.text
    with db.session() as s:
        keys = s.scalars(select(LoginFailure.key_hash)).all()
    assert keys and not any("@" in key or "testclient" in key for key in keys)


def test_a_successful_sign_in_clears_the_account_count(anon_client: TestClient, db: Database) -> None:
    email = add_account(db, "staff")
    for _ in range(4):
        sign_in(anon_client, email, "wrong horse battery")
    assert sign_in(anon_client, email).status_code == 303
    for _ in range(4):
        assert sign_in(anon_client, email, "wrong horse battery").status_code == 400
    assert sign_in(anon_client, email).status_code == 303


def test_logs_name_no_one(anon_client: TestClient, client_as: Any, db: Database,
                          caplog: pytest.LogCaptureFixture) -> None:
    email = add_account(db, "staff", "kim.private@shoe.example")
    with caplog.at_level(logging.INFO):
        sign_in(anon_client, email, "wrong horse battery")
        sign_in(anon_client, email)
        client_as("staff").get("/settings")  # owner-only page: a refusal (403, or 404 before it exists)
        client_as("staff").post("/customers/1/notes", data={"body": "x"}, headers={"x-csrf-token": "forged"})
    text = caplog.text
    assert "sign-in failed" in text and "signed in: user_id=" in text and "csrf refused" in text
    assert "kim.private" not in text and PASSWORD not in text and "wrong horse" not in text


def test_staff_cannot_reach_owner_pages_and_the_refusal_is_logged(client_as: Any,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    staff = client_as("staff")
    with caplog.at_level(logging.INFO):
        refused = staff.post("/logout", headers={"x-csrf-token": "nope"})
    assert refused.status_code == 403 and "did not come from this site" in refused.text
    assert "csrf refused: user_id=" in caplog.text


def test_a_signed_in_page_reads_its_user_and_business_over_one_connection(web_settings: Settings, shop: Any,
                                                                            db: Database) -> None:
    checkouts: list[object] = []

    def checked_out(_dbapi: object, record: object, _proxy: object) -> None:
        checkouts.append(record)

    with TestClient(create_app(web_settings, database=db), follow_redirects=False) as client:
        sign_in_as(client, db, "staff")
        assert client.get("/search", params={"q": "ad"}).status_code == 200  # warm: the vocabulary of names loads once
        event.listen(db.engine, "checkout", checked_out)
        try:
            page = client.get("/search", params={"q": "ad"}, headers={"HX-Request": "true"})
        finally:
            event.remove(db.engine, "checkout", checked_out)
    assert page.status_code == 200 and "Ada" in page.text
    # Who is asking and the business's details share one check-out (on PostgreSQL one ping); the page has its own.
    assert len(checkouts) == 2, checkouts


def test_get_never_signs_out(client: TestClient, db: Database) -> None:
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200 and sessions_of(db) == 1


def test_pages_show_who_is_signed_in_and_a_sign_out_form(anon_client: TestClient, db: Database) -> None:
    sign_in_as(anon_client, db, "manager", "mia@shoe.example")
    page = anon_client.get("/customers")
    assert "mia@shoe.example · manager" in page.text
    assert re.search(r'<form class="signout" method="post" action="/logout">\s*<input type="hidden" '
                     r'name="csrf_token" value="[^"]{40,}">', page.text)
    assert "no-store" in page.headers["cache-control"]


@given(st.text(max_size=60))
def test_after_sign_in_the_browser_only_goes_to_a_page_of_this_site(target: str) -> None:
    chosen = safe_next(target)
    assert chosen.startswith("/") and not chosen.startswith("//") and "\\" not in chosen
    assert chosen in (target, "/")


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_next_cannot_leave_the_site(anon_client: TestClient, db: Database, target: str) -> None:
    email = add_account(db, "staff")
    answer = sign_in(anon_client, email, next_=target)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_signing_out_without_a_session_just_goes_to_the_form(anon_client: TestClient) -> None:
    anon_client.cookies.set(SESSION_COOKIE, "expired-or-made-up-session-secret-0000000000")
    out = anon_client.post("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert out.headers["set-cookie"].startswith(f'{SESSION_COOKIE}=""') and "Max-Age=0" in out.headers["set-cookie"]


def test_as_you_type_search_without_a_session_asks_htmx_to_go_to_the_form(anon_client: TestClient) -> None:
    answer = anon_client.get("/search?q=ada", headers={"HX-Request": "true"})
    assert answer.status_code == 401 and answer.text == ""
    assert answer.headers["hx-redirect"] == "/login?next=%2Fsearch%3Fq%3Dada"


def test_spellings_of_one_address_share_one_failure_count(anon_client: TestClient, db: Database) -> None:
    email = add_account(db, "staff")
    spellings = [email, email.upper(), f"mailto:{email}", f"  {email} ", f"MAILTO:{email.upper()}"]
    for spelling in spellings:
        assert sign_in(anon_client, spelling, "wrong horse battery").status_code == 400
    assert sign_in(anon_client, email).status_code == 429
