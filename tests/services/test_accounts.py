"""Accounts service: argon2id password hashes, password rules, users and API tokens, on a real database."""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ravingfans.clock import fixed
from ravingfans.db import Database
from ravingfans.db.models import ApiToken, User
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services import accounts
from ravingfans.services.accounts import (
    DEFAULT_HASHER,
    add_user,
    common_passwords,
    create_token,
    disable_user,
    list_users,
    revoke_token,
    token_user,
    verify_password,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# Lowest argon2 costs, for speed in tests only; production uses DEFAULT_HASHER (checked below).
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
GOOD = "plum kettle orbit lantern"


def _add(s, email: str = "ann@example.com", password: str = GOOD, role: str = "staff") -> User:
    return add_user(s, email, role, password, clock=fixed(NOW), hasher=FAST)


def test_production_hasher_is_argon2id_with_rfc9106_costs(db: Database) -> None:
    assert DEFAULT_HASHER.time_cost >= 3 and DEFAULT_HASHER.memory_cost >= 64 * 1024
    with db.session(write=True) as s:
        user = add_user(s, "Ann@Example.COM ", "owner", GOOD, clock=fixed(NOW))
        assert user.password_hash.startswith("$argon2id$")
        assert GOOD not in user.password_hash
        assert user.email == "ann@example.com" and user.active and user.created_at == NOW
        assert user.last_login_at is None and user.disabled_at is None
    with db.session() as s:
        assert verify_password(s, "ANN@example.com", GOOD) is not None
        assert verify_password(s, "ann@example.com", GOOD + "!") is None


def test_wrong_password_unknown_and_malformed_email_fail(db: Database) -> None:
    with db.session(write=True) as s:
        _add(s)
    with db.session() as s:
        assert verify_password(s, "ann@example.com", GOOD, hasher=FAST).email == "ann@example.com"
        assert verify_password(s, "ann@example.com", "plum kettle orbit lanterN", hasher=FAST) is None
        assert verify_password(s, "bob@example.com", GOOD, hasher=FAST) is None
        assert verify_password(s, "not an address", GOOD, hasher=FAST) is None


def test_unknown_email_still_runs_a_hash_check(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str, password: str) -> bool:
        checked.append(hash)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    with db.session() as s:
        assert verify_password(s, "nobody@example.com", GOOD, hasher=FAST) is None
    assert len(checked) == 1 and checked[0].startswith("$argon2id$")


@pytest.mark.parametrize("length", [8, 64, 1024])
def test_long_passwords_are_accepted(db: Database, length: int) -> None:
    password = ("tuba-quartz-" * 100)[:length]
    with db.session(write=True) as s:
        _add(s, password=password)
    with db.session() as s:
        assert verify_password(s, "ann@example.com", password, hasher=FAST) is not None


@pytest.mark.parametrize(("password", "fix"), [
    ("abcdefg", "at least 8"),
    ("x" * 1025, "at most 1024"),
    ("password", "commonly used"),
    ("PassWord", "commonly used"),
    ("QWERTYUIOP", "commonly used"),
])
def test_bad_passwords_are_refused_naming_the_field(db: Database, password: str, fix: str) -> None:
    with db.session(write=True) as s, pytest.raises(ValidationFailed, match=fix) as caught:
        _add(s, password=password)
    assert caught.value.field == "password" and caught.value.hint
    with db.session() as s:
        assert list_users(s) == []


def test_common_list_is_the_bundled_ten_thousand() -> None:
    words = common_passwords()
    assert 9_000 <= len(words) <= 10_000
    assert {"123456", "password", "iloveyou"} <= words
    assert all(w == w.lower() for w in words)


@pytest.mark.parametrize(("email", "role", "field"), [
    ("not-an-address", "staff", "email"),
    ("", "staff", "email"),
    ("ann@example.com", "boss", "role"),
])
def test_bad_email_or_role_is_refused(db: Database, email: str, role: str, field: str) -> None:
    with db.session(write=True) as s, pytest.raises(ValidationFailed) as caught:
        add_user(s, email, role, GOOD, clock=fixed(NOW), hasher=FAST)
    assert caught.value.field == field


def test_duplicate_email_is_refused_whatever_its_case(db: Database) -> None:
    with db.session(write=True) as s:
        _add(s)
    with db.session(write=True) as s, pytest.raises(ValidationFailed, match="already exists") as caught:
        _add(s, email="ANN@example.com")
    assert caught.value.field == "email"
    with db.session() as s:
        assert [u.email for u in list_users(s)] == ["ann@example.com"]


def test_unknown_user_is_not_found(db: Database) -> None:
    with db.session(write=True) as s:
        with pytest.raises(NotFound, match="nobody@example.com"):
            disable_user(s, "nobody@example.com")
        with pytest.raises(NotFound, match="nobody@example.com"):
            create_token(s, "nobody@example.com", "x")
        with pytest.raises(NotFound, match="42"):
            revoke_token(s, 42)


def test_token_is_shown_once_and_stored_as_sha256(db: Database) -> None:
    later = NOW + timedelta(hours=3)
    with db.session(write=True) as s:
        _add(s)
        token = create_token(s, "Ann@example.com", "bookkeeping", clock=fixed(NOW)).token
    assert token.startswith("rf_") and len(token) >= 3 + 43
    with db.session(write=True) as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in row.token_hash and row.name == "bookkeeping" and row.last_used_at is None
        user = token_user(s, token, clock=fixed(later))
        assert user is not None and user.email == "ann@example.com"
    with db.session() as s:
        assert s.scalars(select(ApiToken)).one().last_used_at == later
        assert token_user(s, token[:-1]) is None
        assert token_user(s, token[3:]) is None
        assert token_user(s, "") is None


def test_two_tokens_differ(db: Database) -> None:
    with db.session(write=True) as s:
        _add(s)
        assert create_token(s, "ann@example.com", "a").token != create_token(s, "ann@example.com", "a").token


def test_revoked_token_fails_and_others_keep_working(db: Database) -> None:
    with db.session(write=True) as s:
        _add(s)
        issued = create_token(s, "ann@example.com", "first")
        first, first_id = issued.token, issued.id
        second = create_token(s, "ann@example.com", "second").token
    with db.session(write=True) as s:
        assert revoke_token(s, first_id, clock=fixed(NOW)).revoked_at == NOW
        assert revoke_token(s, first_id, clock=fixed(NOW + timedelta(days=1))).revoked_at == NOW
    with db.session(write=True) as s:
        assert token_user(s, first) is None
        assert token_user(s, second) is not None


def test_disabled_user_cannot_sign_in_or_use_tokens(db: Database) -> None:
    with db.session(write=True) as s:
        _add(s)
        _add(s, email="bob@example.com")
        token = create_token(s, "ann@example.com", "sync").token
        bob_token = create_token(s, "bob@example.com", "sync").token
    with db.session(write=True) as s:
        user = disable_user(s, "ann@example.com", clock=fixed(NOW))
        assert not user.active and user.disabled_at == NOW
    with db.session(write=True) as s:
        assert verify_password(s, "ann@example.com", GOOD, hasher=FAST) is None
        assert token_user(s, token) is None
        assert s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one().revoked_at == NOW
        assert token_user(s, bob_token) is not None
        with pytest.raises(ValidationFailed, match="disabled") as caught:
            create_token(s, "ann@example.com", "again")
        assert caught.value.field == "user"


def test_token_name_is_required(db: Database) -> None:
    with db.session(write=True) as s:
        _add(s)
        for name in ("", "   ", "n" * 121):
            with pytest.raises(ValidationFailed) as caught:
                create_token(s, "ann@example.com", name)
            assert caught.value.field == "name"


def test_list_users_by_email(db: Database) -> None:
    with db.session(write=True) as s:
        _add(s, email="zed@example.com", role="owner")
        _add(s, email="amy@example.com", role="manager")
    with db.session() as s:
        assert [(u.email, u.role) for u in list_users(s)] == [("amy@example.com", "manager"),
                                                               ("zed@example.com", "owner")]


def _accepted(password: str) -> bool:
    try:
        accounts.check_password(password)
    except ValidationFailed:
        return False
    return True


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=st.text(min_size=1, max_size=80), other=st.text(min_size=1, max_size=80))
def test_any_accepted_password_verifies_and_another_does_not(db: Database, password: str, other: str) -> None:
    assume(_accepted(password))
    assume(unicodedata.normalize("NFKC", password) != unicodedata.normalize("NFKC", other))
    email = f"u{uuid.uuid4().hex[:12]}@example.com"
    with db.session(write=True) as s:
        _add(s, email=email, password=password)
    with db.session() as s:
        assert verify_password(s, email, password, hasher=FAST) is not None
        assert verify_password(s, email, other, hasher=FAST) is None
