"""The users page: owners add users, change roles, disable and enable them, set passwords; nobody else may."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from signin import PASSWORD, FAST_HASHER, add_account
from sqlalchemy import func, select

from ravingfans.db import Database
from ravingfans.db.models import User
from ravingfans.services.accounts import create_token, verify_password

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ClientAs = Callable[[str], TestClient]
NEW = "tuba quartz meadow sparrow"
ADD = {"email": "kim@shoe.example", "role": "staff", "password": NEW, "password_repeat": NEW}


def user_id(db: Database, email: str) -> int:
    with db.session() as s:
        found = s.scalar(select(User.id).where(User.email == email))
        assert found is not None, email
        return found


def state(db: Database, email: str) -> tuple[str, bool]:
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email))
        assert user is not None, email
        return user.role, user.active


def user_count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(User)) or 0)


def row(page: str, uid: int) -> str:
    """The table row of one user on the users page."""
    found = re.search(rf'<tr id="user-{uid}".*?</tr>', page, re.S)
    assert found is not None, page
    return found.group(0)


def test_owners_see_every_user_with_role_status_and_sign_ins(client: TestClient, db: Database, shop: Any) -> None:
    add_account(db, "manager", "mia@shoe.example")
    gone = add_account(db, "staff", "gone@shoe.example")
    owner = user_id(db, "owner@shoe.example")
    assert client.post(f"/users/{user_id(db, gone)}/disable").status_code == 303
    page = client.get("/users")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert '<a href="/users">Users</a>' in page.text
    mine = row(page.text, owner)
    assert "owner@shoe.example" in mine and "(you)" in mine and '<td class="role">owner</td>' in mine
    assert "Active" in mine and "JST" in mine and "never" not in mine  # signed in: a last sign-in time
    assert f'action="/users/{owner}/disable"' not in mine  # nobody disables themselves
    mia = row(page.text, user_id(db, "mia@shoe.example"))
    assert '<td class="role">manager</td>' in mia and "never" in mia and 'action="/users/' in mia
    disabled = row(page.text, user_id(db, gone))
    assert "Disabled" in disabled and "since" in disabled and disabled.count("<form") == 1
    assert f'action="/users/{user_id(db, gone)}/enable"' in disabled  # the one thing to do with them
    assert f'action="/users/{owner}/enable"' not in mine
    assert page.text.index("gone@shoe.example") < page.text.index("mia@shoe.example")  # by e-mail


def test_every_form_has_the_csrf_token_labels_and_new_password_fields(client: TestClient, db: Database,
                                                                       shop: Any) -> None:
    add_account(db, "staff", "kim@shoe.example")
    page = client.get("/users").text
    forms = re.findall(r'<form method="post".*?</form>|<form class="stacked[^"]*" method="post".*?</form>', page, re.S)
    assert len(forms) == 1 + 3 + 2  # add; the other user's role, password, disable; my role and password
    assert all('name="csrf_token"' in form for form in forms)
    ids = re.findall(r'<(?:input|select) id="([^"]+)"', page)
    assert ids and all(f'<label for="{i}"' in page for i in ids)
    passwords = re.findall(r'<input [^>]*type="password"[^>]*>', page)
    assert len(passwords) == 2 + 2 + 2 and all('autocomplete="new-password"' in p for p in passwords)


def test_an_owner_adds_a_user_who_can_sign_in(client: TestClient, db: Database, shop: Any) -> None:
    answer = client.post("/users", data=ADD | {"email": " Kim@Shoe.example", "role": "manager"})
    kim = user_id(db, "kim@shoe.example")
    assert answer.status_code == 303 and answer.headers["location"] == f"/users?saved=added#user-{kim}"
    assert state(db, "kim@shoe.example") == ("manager", True)
    with db.session() as s:
        assert verify_password(s, "kim@shoe.example", NEW) is not None
    page = client.get(answer.headers["location"]).text
    assert "User added." in page and '<td class="role">manager</td>' in row(page, kim)


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"password_repeat": NEW + "!"}, "password_repeat", "not the same"),
    ({"password": "password", "password_repeat": "password"}, "password", "commonly used"),
    ({"password": "short", "password_repeat": "short"}, "password", "at least 8"),
    ({"email": "not an address"}, "email", "not an e-mail address"),
    ({"email": "owner@shoe.example"}, "email", "already exists"),
    ({"role": "admin"}, "role", "Unknown role"),
])
def test_bad_new_users_are_refused_naming_the_field(client: TestClient, db: Database, shop: Any,
                                                     change: dict[str, str], field: str, words: str) -> None:
    answer = client.post("/users", data=ADD | change)
    assert answer.status_code == 422 and f'data-field="{field}"' in answer.text and words in answer.text
    assert 'href="/users">Back to the users' in answer.text
    assert user_count(db) == 1


def test_an_owner_changes_a_role_and_it_applies_to_open_sessions(client: TestClient, client_as: ClientAs,
                                                                 db: Database, shop: Any) -> None:
    staff = client_as("staff")
    assert staff.get("/fans.csv").status_code == 403
    uid = user_id(db, "staff1@shoe.example")
    answer = client.post(f"/users/{uid}/role", data={"role": "manager"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/users?saved=role#user-{uid}"
    assert state(db, "staff1@shoe.example") == ("manager", True)
    assert "Role changed." in client.get(answer.headers["location"]).text
    assert staff.get("/fans.csv").status_code == 200  # no need to sign in again
    assert client.post(f"/users/{uid}/role", data={"role": "boss"}).status_code == 422
    assert client.post("/users/9999/role", data={"role": "staff"}).status_code == 404


def test_disabling_a_user_ends_their_session_and_tokens(client: TestClient, client_as: ClientAs, db: Database,
                                                        shop: Any) -> None:
    staff, other = client_as("staff"), client_as("staff")
    with db.session(write=True) as s:
        token = create_token(s, "staff1@shoe.example", "sync").token
    assert staff.get("/").status_code == 200
    assert staff.get("/api/v1/customers", headers={"authorization": f"Bearer {token}"}).status_code == 200
    uid = user_id(db, "staff1@shoe.example")
    answer = client.post(f"/users/{uid}/disable")
    assert answer.status_code == 303 and answer.headers["location"] == f"/users?saved=disabled#user-{uid}"
    assert state(db, "staff1@shoe.example") == ("staff", False)
    assert staff.get("/").status_code == 303 and staff.get("/").headers["location"].startswith("/login")
    assert staff.post(f"/customers/{shop.ada}/notes", data={"body": "still here?"}).status_code == 401
    assert staff.get("/api/v1/customers", headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert other.get("/").status_code == 200  # only theirs ended
    assert "User disabled" in client.get(answer.headers["location"]).text


def test_enabling_a_disabled_user_lets_them_sign_in_again(client: TestClient, client_as: ClientAs, db: Database,
                                                         shop: Any) -> None:
    staff = client_as("staff")
    with db.session(write=True) as s:
        token = create_token(s, "staff1@shoe.example", "sync").token
    uid = user_id(db, "staff1@shoe.example")
    assert client.post(f"/users/{uid}/disable").status_code == 303
    answer = client.post(f"/users/{uid}/enable")
    assert answer.status_code == 303 and answer.headers["location"] == f"/users?saved=enabled#user-{uid}"
    assert state(db, "staff1@shoe.example") == ("staff", True)
    page = client.get(answer.headers["location"]).text
    assert "User enabled" in page and f'action="/users/{uid}/disable"' in row(page, uid)
    assert staff.get("/").status_code == 303  # the session that ended at disable stays ended
    with db.session() as s:
        assert verify_password(s, "staff1@shoe.example", PASSWORD, hasher=FAST_HASHER) is not None
    assert staff.get("/api/v1/customers", headers={"authorization": f"Bearer {token}"}).status_code == 401
    again = client.post(f"/users/{uid}/enable")  # enabling an active user changes nothing, and says so
    assert again.status_code == 303 and again.headers["location"] == f"/users?saved=active#user-{uid}"
    page = client.get(again.headers["location"]).text
    assert "active already; nothing changed" in page and "User enabled" not in page
    assert client.post("/users/99999/enable").status_code == 404


def test_setting_a_password_ends_their_sessions(client: TestClient, client_as: ClientAs, db: Database,
                                                shop: Any) -> None:
    staff = client_as("staff")
    uid = user_id(db, "staff1@shoe.example")
    mismatch = client.post(f"/users/{uid}/password", data={"password": NEW, "password_repeat": PASSWORD})
    assert mismatch.status_code == 422 and 'data-field="password_repeat"' in mismatch.text
    assert staff.get("/").status_code == 200
    answer = client.post(f"/users/{uid}/password", data={"password": NEW, "password_repeat": NEW})
    assert answer.status_code == 303 and answer.headers["location"] == f"/users?saved=password#user-{uid}"
    assert staff.get("/").status_code == 303
    with db.session() as s:
        assert verify_password(s, "staff1@shoe.example", NEW) is not None
        assert verify_password(s, "staff1@shoe.example", PASSWORD, hasher=FAST_HASHER) is None
    assert client.get("/users").status_code == 200  # the owner's own session goes on


@pytest.mark.parametrize("role", ["staff", "manager"])
def test_staff_and_managers_may_not_see_or_manage_users(client_as: ClientAs, db: Database, shop: Any,
                                                        role: str) -> None:
    other = client_as(role)
    owner = add_account(db, "owner", "boss@shoe.example")
    uid = user_id(db, owner)
    assert other.get("/users").status_code == 403
    assert '<a href="/users">' not in other.get("/").text
    assert other.post("/users", data=ADD | {"role": "owner"}).status_code == 403
    assert other.post(f"/users/{uid}/role", data={"role": "staff"}).status_code == 403
    assert other.post(f"/users/{uid}/password", data={"password": NEW, "password_repeat": NEW}).status_code == 403
    assert other.post(f"/users/{uid}/disable").status_code == 403
    assert other.post(f"/users/{uid}/enable").status_code == 403
    me = user_id(db, f"{role}1@shoe.example")
    assert other.post(f"/users/{me}/role", data={"role": "owner"}).status_code == 403  # no promoting oneself
    assert state(db, owner) == ("owner", True) and state(db, f"{role}1@shoe.example") == (role, True)
    assert user_count(db) == 2
    with db.session() as s:
        assert verify_password(s, owner, PASSWORD, hasher=FAST_HASHER) is not None


def test_posts_without_the_csrf_token_are_refused(client: TestClient, db: Database, shop: Any) -> None:
    add_account(db, "staff", "kim@shoe.example")
    uid = user_id(db, "kim@shoe.example")
    token = client.headers.pop("x-csrf-token")
    for path, data in (("/users", ADD | {"email": "new@shoe.example"}), (f"/users/{uid}/role", {"role": "owner"}),
                       (f"/users/{uid}/password", {"password": NEW, "password_repeat": NEW}),
                       (f"/users/{uid}/disable", {}), (f"/users/{uid}/enable", {})):
        assert client.post(path, data=data).status_code == 403
        assert client.post(path, data=data | {"csrf_token": "forged"}).status_code == 403
    assert state(db, "kim@shoe.example") == ("staff", True) and user_count(db) == 2
    assert client.post(f"/users/{uid}/role", data={"role": "manager", "csrf_token": token}).status_code == 303
    assert state(db, "kim@shoe.example") == ("manager", True)


def test_the_last_owner_cannot_demote_or_disable_themselves(client: TestClient, db: Database, shop: Any) -> None:
    me = user_id(db, "owner@shoe.example")
    for role in ("manager", "staff"):
        answer = client.post(f"/users/{me}/role", data={"role": role})
        assert answer.status_code == 409 and "only active owner" in answer.text
        assert "Make another user an owner first." in answer.text
    answer = client.post(f"/users/{me}/disable")
    assert answer.status_code == 409 and "cannot disable your own account" in answer.text
    assert state(db, "owner@shoe.example") == ("owner", True)
    assert client.get("/users").status_code == 200


def test_with_another_owner_an_owner_may_step_down_but_not_disable_themselves(client: TestClient, db: Database,
                                                                              shop: Any) -> None:
    add_account(db, "owner", "partner@shoe.example")
    me = user_id(db, "owner@shoe.example")
    assert client.post(f"/users/{me}/disable").status_code == 409
    answer = client.post(f"/users/{me}/role", data={"role": "manager"})
    assert answer.status_code == 303 and answer.headers["location"] == "/"  # /users is no longer theirs to see
    assert state(db, "owner@shoe.example") == ("manager", True)
    assert client.get("/users").status_code == 403


def test_hostile_e_mail_text_is_shown_as_text(client: TestClient, db: Database, shop: Any) -> None:
    hostile = "<script>alert(1)</script>@evil.example"  # as if typed into an older import, past the checks
    with db.session(write=True) as s:
        s.add(User(email=hostile, role="staff", password_hash="x", active=True,
                   created_at=datetime(2024, 1, 1, tzinfo=UTC)))
    odd = client.post("/users", data=ADD | {"email": "o'brien&co@shoe.example"})
    assert odd.status_code == 303
    page = client.get("/users").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;@evil.example" in page
    assert "o&#39;brien&amp;co@shoe.example" in page
    refused = client.post("/users", data=ADD | {"email": "<img src=x onerror=alert(1)>@x.example"})
    assert refused.status_code == 422 and "<img src=x" not in refused.text and "&lt;img src=x" in refused.text


def test_changes_are_logged_without_e_mail_addresses(client: TestClient, db: Database, shop: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ravingfans")
    me = user_id(db, "owner@shoe.example")
    assert client.post("/users", data=ADD).status_code == 303
    kim = user_id(db, "kim@shoe.example")
    assert client.post(f"/users/{kim}/role", data={"role": "manager"}).status_code == 303
    assert client.post(f"/users/{kim}/password", data={"password": PASSWORD, "password_repeat": PASSWORD}
                       ).status_code == 303
    assert client.post(f"/users/{kim}/disable").status_code == 303
    assert f"user role changed: id={kim} from=staff to=manager by={me}" in caplog.text
    assert f"user disabled on the web: id={kim} role=manager by={me}" in caplog.text
    assert "@" not in caplog.text and NEW not in caplog.text and PASSWORD not in caplog.text
