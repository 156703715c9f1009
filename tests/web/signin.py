"""Signing test clients in: users with a cheap password hash and a session made through the service."""

from __future__ import annotations

import re
import warnings
from typing import Any

import httpx

from argon2 import PasswordHasher
from sqlalchemy import select

from ravingfans.db import Database
from ravingfans.db.models import User
from ravingfans.services.accounts import add_user
from ravingfans.services.sessions import SessionPolicy, open_session
from ravingfans.web.auth import CSRF_HEADER, SESSION_COOKIE

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # tests only: cheap to make and check
PASSWORD = "plum kettle orbit lantern"


def add_account(db: Database, role: str, email: str | None = None) -> str:
    """Create an active user with :data:`PASSWORD` (cheaply hashed); their e-mail."""
    address = email or f"{role}@shoe.example"
    with db.session(write=True) as s:
        add_user(s, address, role, PASSWORD, hasher=FAST_HASHER)
    return address


def sign_in_as(client: TestClient, db: Database, role: str, email: str | None = None) -> TestClient:
    """Give ``client`` a session for a new ``role`` user; its forms then carry the CSRF token as a header."""
    address = add_account(db, role, email)
    with db.session(write=True) as s:
        user = s.scalar(select(User).where(User.email == address))
        assert user is not None
        opened = open_session(s, user, SessionPolicy())
    client.cookies.set(SESSION_COOKIE, opened.token)
    assert opened.principal.csrf_token
    client.headers[CSRF_HEADER] = opened.principal.csrf_token
    return client



LIVE_OWNER = "owner@shoe.example"


def sign_in_page(tab: Any, email: str = LIVE_OWNER, password: str = PASSWORD) -> None:
    """Sign a Playwright tab in through the real sign-in form, as a person would."""
    tab.goto("/login")
    tab.get_by_label("E-mail").fill(email)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(lambda url: "/login" not in url)


def sign_in_http(http: httpx.Client, email: str = LIVE_OWNER, password: str = PASSWORD) -> str:
    """Sign an httpx client in over real HTTP (form token, cookie); the session's CSRF token for its forms."""
    form = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, form.text
    answer = http.post("/login", data={"email": email, "password": password, "csrf_token": token.group(1),
                                       "next": "/"})
    assert answer.status_code == 303, answer.text
    home = http.get("/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None, home.text
    return csrf.group(1)
