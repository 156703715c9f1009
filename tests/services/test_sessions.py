"""Sessions and sign-in throttling as services: timeouts, touching, purging and the wait after failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from ravingfans.clock import fixed
from ravingfans.db import Database
from ravingfans.db.models import LoginFailure, User, WebSession
from ravingfans.errors import TooManyAttempts, ValidationFailed
from ravingfans.services.accounts import add_user, count_active_users, disable_user, set_password, sign_in
from ravingfans.services.sessions import (
    SessionPolicy,
    close_session,
    find_session,
    needs_touch,
    open_session,
    purge_expired,
    record_failure,
    retry_after,
    touch_session,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
GOOD = "plum kettle orbit lantern"
SECRET = "test-secret-for-throttling-keys-000"
POLICY = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=8), max_failures_per_account=3,
                       max_failures_per_address=5, window=timedelta(minutes=15))


def make_user(db: Database, email: str = "kim@shoe.example", role: str = "staff") -> int:
    with db.session(write=True) as s:
        return add_user(s, email, role, GOOD, clock=fixed(T0), hasher=FAST).id


def start(db: Database, user_id: int, at: datetime = T0) -> str:
    with db.session(write=True) as s:
        user = s.get(User, user_id)
        assert user is not None
        return open_session(s, user, POLICY, clock=fixed(at)).token


def lookup(db: Database, token: str, at: datetime) -> object:
    with db.session() as s:
        return find_session(s, token, POLICY, clock=fixed(at))


def test_a_session_ends_after_the_idle_time_unless_touched(db: Database) -> None:
    token = start(db, make_user(db))
    assert lookup(db, token, T0 + timedelta(minutes=29)) is not None
    assert lookup(db, token, T0 + timedelta(minutes=30)) is None
    principal = lookup(db, token, T0 + timedelta(minutes=20))
    assert principal is not None and needs_touch(principal, clock=fixed(T0 + timedelta(minutes=20)))
    assert not needs_touch(principal, clock=fixed(T0 + timedelta(seconds=30)))
    with db.session(write=True) as s:
        touch_session(s, principal.session_id or "", clock=fixed(T0 + timedelta(minutes=20)))
    assert lookup(db, token, T0 + timedelta(minutes=45)) is not None  # idle counts from the last touch


def test_a_session_ends_at_its_absolute_expiry_however_busy(db: Database) -> None:
    token = start(db, make_user(db))
    at = T0
    while at < T0 + timedelta(hours=8) - timedelta(minutes=10):
        at += timedelta(minutes=10)
        principal = lookup(db, token, at)
        assert principal is not None
        with db.session(write=True) as s:
            touch_session(s, principal.session_id or "", clock=fixed(at))
    assert lookup(db, token, T0 + timedelta(hours=8)) is None


def test_unknown_tampered_or_closed_secrets_open_nothing(db: Database) -> None:
    token = start(db, make_user(db))
    assert lookup(db, token[:-1] + ("A" if token[-1] != "A" else "B"), T0) is None
    assert lookup(db, "", T0) is None and lookup(db, "x" * 500, T0) is None
    with db.session(write=True) as s:
        assert close_session(s, token) is not None
    assert lookup(db, token, T0) is None


def test_purge_deletes_only_dead_sessions_and_old_failures(db: Database) -> None:
    user = make_user(db)
    start(db, user, T0 - timedelta(hours=9))  # expired
    live = start(db, user, T0)
    with db.session(write=True) as s:
        record_failure(s, "a@b.example", "10.0.0.1", SECRET, clock=fixed(T0 - timedelta(hours=1)))
        record_failure(s, "a@b.example", "10.0.0.1", SECRET, clock=fixed(T0))
    with db.session(write=True) as s:
        assert purge_expired(s, POLICY, clock=fixed(T0 + timedelta(minutes=1))) == 3
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 1
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 2
    assert lookup(db, live, T0 + timedelta(minutes=1)) is not None


def test_the_wait_lasts_until_enough_failures_leave_the_window(db: Database) -> None:
    with db.session(write=True) as s:
        for minute in (0, 5, 10):
            record_failure(s, "Kim@Shoe.example", "10.0.0.1", SECRET, clock=fixed(T0 + timedelta(minutes=minute)))
    with db.session() as s:
        assert retry_after(s, "kim@shoe.example", "10.0.0.2", SECRET, POLICY,
                           clock=fixed(T0 + timedelta(minutes=11))) == ("account", 4 * 60 + 1)
        assert retry_after(s, "kim@shoe.example", "10.0.0.2", SECRET, POLICY,
                           clock=fixed(T0 + timedelta(minutes=15, seconds=1))) is None
        assert retry_after(s, "ann@shoe.example", "10.0.0.1", SECRET, POLICY,
                           clock=fixed(T0 + timedelta(minutes=11))) is None  # the address has 3 of 5


def test_sign_in_counts_failures_then_refuses_before_checking(db: Database) -> None:
    make_user(db)
    for n in range(3):
        with db.session(write=True) as s:
            assert sign_in(s, "kim@shoe.example", "wrong horse battery", address="10.0.0.1", secret=SECRET,
                           policy=POLICY, clock=fixed(T0 + timedelta(seconds=n)), hasher=FAST) is None
    with db.session(write=True) as s, pytest.raises(TooManyAttempts) as refused:
        sign_in(s, "kim@shoe.example", GOOD, address="10.0.0.9", secret=SECRET, policy=POLICY,
                clock=fixed(T0 + timedelta(minutes=1)), hasher=FAST)
    assert refused.value.retry_after == 14 * 60 + 1 and refused.value.http_status == 429


def test_sign_in_records_the_login_time_and_replaces_the_old_session(db: Database) -> None:
    user_id = make_user(db)
    old = start(db, user_id)
    with db.session(write=True) as s:
        opened = sign_in(s, "kim@shoe.example", GOOD, address="10.0.0.1", secret=SECRET, policy=POLICY,
                         replaces=old, clock=fixed(T0 + timedelta(minutes=5)), hasher=FAST)
    assert opened is not None and opened.token != old
    assert opened.expires_at == T0 + timedelta(minutes=5, hours=8)
    with db.session() as s:
        user = s.get(User, user_id)
        assert user is not None and user.last_login_at == T0 + timedelta(minutes=5)
        assert s.scalar(select(func.count()).select_from(WebSession)) == 1


def test_a_new_password_ends_every_session_and_counts_users(db: Database) -> None:
    user_id = make_user(db)
    token = start(db, user_id)
    with db.session(write=True) as s:
        assert count_active_users(s) == 1
        set_password(s, "KIM@shoe.example", "new lantern orbit plum", hasher=FAST)
    assert lookup(db, token, T0) is None
    with db.session(write=True) as s:
        with pytest.raises(ValidationFailed):
            set_password(s, "kim@shoe.example", "password", hasher=FAST)
        disable_user(s, "kim@shoe.example")
        assert count_active_users(s) == 0
