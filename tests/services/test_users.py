"""Managing users by id: adding with the password typed twice, roles, disabling, new passwords, and the owner rules."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from ravingfans.clock import fixed
from ravingfans.db import Database
from ravingfans.db.models import ApiToken, User, WebSession
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services import users
from ravingfans.services.accounts import add_user, create_token, token_user, verify_password
from ravingfans.services.sessions import SessionPolicy, open_session

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
GOOD = "plum kettle orbit lantern"
NEW = "tuba quartz meadow sparrow"


def make(db: Database, email: str, role: str, *, session: bool = False) -> int:
    """A user with GOOD as password (and, when asked, an open session and an API token); their id."""
    with db.session(write=True) as s:
        user = add_user(s, email, role, GOOD, clock=fixed(NOW), hasher=FAST)
        if session:
            open_session(s, user, SessionPolicy())
            create_token(s, email, "sync")
        return user.id


def role_of(db: Database, user_id: int) -> tuple[str, bool]:
    with db.session() as s:
        user = s.get(User, user_id)
        assert user is not None
        return user.role, user.active


def test_lookup_by_id_and_not_found(db: Database) -> None:
    kim = make(db, "kim@shoe.example", "staff")
    with db.session() as s:
        assert users.get_user_by_id(s, kim).email == "kim@shoe.example"
        with pytest.raises(NotFound, match="999"):
            users.get_user_by_id(s, 999)
    with db.session(write=True) as s:
        for action in (lambda: users.change_role(s, 999, "staff", actor_id=kim),
                       lambda: users.disable(s, 999, actor_id=kim),
                       lambda: users.set_password(s, 999, NEW, NEW, actor_id=kim, hasher=FAST)):
            with pytest.raises(NotFound):
                action()


def test_add_user_needs_the_same_password_twice_and_follows_the_cli_rules(db: Database) -> None:
    owner = make(db, "owner@shoe.example", "owner")
    with db.session(write=True) as s:
        with pytest.raises(ValidationFailed, match="not the same") as caught:
            users.add_user(s, "kim@shoe.example", "staff", GOOD, GOOD + "x", actor_id=owner, hasher=FAST)
        assert caught.value.field == "password_repeat"
        with pytest.raises(ValidationFailed, match="commonly used") as caught:
            users.add_user(s, "kim@shoe.example", "staff", "password", "password", actor_id=owner, hasher=FAST)
        assert caught.value.field == "password"
        with pytest.raises(ValidationFailed) as caught:
            users.add_user(s, "kim@shoe.example", "boss", GOOD, GOOD, actor_id=owner, hasher=FAST)
        assert caught.value.field == "role"
        with pytest.raises(ValidationFailed, match="already exists") as caught:
            users.add_user(s, "OWNER@shoe.example", "staff", GOOD, GOOD, actor_id=owner, hasher=FAST)
        assert caught.value.field == "email"
        added = users.add_user(s, " Kim@Shoe.example", "manager", GOOD, GOOD, actor_id=owner, clock=fixed(NOW),
                               hasher=FAST)
        assert (added.email, added.role, added.active, added.created_at) == ("kim@shoe.example", "manager", True, NOW)
    with db.session() as s:
        assert verify_password(s, "kim@shoe.example", GOOD, hasher=FAST) is not None
        assert [u.email for u in users.list_users(s)] == ["kim@shoe.example", "owner@shoe.example"]


def test_change_role_takes_effect_and_checks_the_role(db: Database) -> None:
    owner = make(db, "owner@shoe.example", "owner")
    kim = make(db, "kim@shoe.example", "staff")
    with db.session(write=True) as s:
        assert users.change_role(s, kim, "manager", actor_id=owner).role == "manager"
        with pytest.raises(ValidationFailed, match="Unknown role") as caught:
            users.change_role(s, kim, "admin", actor_id=owner)
        assert caught.value.field == "role"
    assert role_of(db, kim) == ("manager", True)
    with db.session(write=True) as s:
        users.change_role(s, kim, "owner", actor_id=owner)
    with db.session(write=True) as s:  # with two owners, either may step down
        users.change_role(s, owner, "staff", actor_id=owner)
    assert role_of(db, owner) == ("staff", True) and role_of(db, kim) == ("owner", True)


@pytest.mark.parametrize("role", ["manager", "staff"])
def test_the_last_active_owner_cannot_be_demoted(db: Database, role: str) -> None:
    owner = make(db, "owner@shoe.example", "owner")
    gone = make(db, "gone@shoe.example", "owner")
    with db.session(write=True) as s:
        users.disable(s, gone, actor_id=owner)  # a disabled owner does not count
    with db.session(write=True) as s, pytest.raises(Conflict, match="only active owner") as caught:
        users.change_role(s, owner, role, actor_id=owner)
    assert caught.value.hint and "another user an owner" in caught.value.hint
    assert role_of(db, owner) == ("owner", True)
    with db.session(write=True) as s:  # staying an owner is no change, so it is allowed
        assert users.change_role(s, owner, "owner", actor_id=owner).role == "owner"


def test_nobody_disables_themselves_and_the_last_owner_stays(db: Database) -> None:
    owner = make(db, "owner@shoe.example", "owner")
    other = make(db, "other@shoe.example", "owner")
    kim = make(db, "kim@shoe.example", "staff")
    with db.session(write=True) as s, pytest.raises(Conflict, match="your own account"):
        users.disable(s, owner, actor_id=owner)
    assert role_of(db, owner) == ("owner", True)
    with db.session(write=True) as s:
        users.disable(s, other, actor_id=owner)
    with db.session(write=True) as s, pytest.raises(Conflict, match="only active owner"):
        users.disable(s, owner, actor_id=kim)  # whoever asks, the last active owner stays
    assert role_of(db, owner) == ("owner", True) and role_of(db, other) == ("owner", False)


def test_disable_ends_sessions_and_tokens_of_that_user_only(db: Database) -> None:
    owner = make(db, "owner@shoe.example", "owner", session=True)
    kim = make(db, "kim@shoe.example", "staff", session=True)
    with db.session(write=True) as s:
        kim_token = create_token(s, "kim@shoe.example", "extra").token
        owner_token = create_token(s, "owner@shoe.example", "extra").token
    with db.session(write=True) as s:
        user = users.disable(s, kim, actor_id=owner, clock=fixed(NOW))
        assert not user.active and user.disabled_at == NOW
    with db.session(write=True) as s:
        assert s.scalars(select(WebSession.user_id)).all() == [owner]
        assert all(t.revoked_at == NOW for t in s.scalars(select(ApiToken).where(ApiToken.user_id == kim)))
        assert token_user(s, kim_token) is None and token_user(s, owner_token) is not None
        assert verify_password(s, "kim@shoe.example", GOOD, hasher=FAST) is None
    with db.session(write=True) as s:  # twice changes nothing
        assert users.disable(s, kim, actor_id=owner, clock=fixed(NOW)).disabled_at == NOW


def test_enable_lets_a_disabled_user_sign_in_again_but_keeps_tokens_revoked(db: Database) -> None:
    owner = make(db, "owner@shoe.example", "owner")
    kim = make(db, "kim@shoe.example", "staff")
    with db.session(write=True) as s:
        old_token = create_token(s, "kim@shoe.example", "old").token
        users.disable(s, kim, actor_id=owner, clock=fixed(NOW))
    with db.session(write=True) as s:
        result = users.enable(s, kim, actor_id=owner)
        assert result.changed and result.user.active and result.user.disabled_at is None
    with db.session(write=True) as s:
        assert verify_password(s, "kim@shoe.example", GOOD, hasher=FAST) is not None
        assert token_user(s, old_token) is None  # revoked at disable, not trusted again
        assert token_user(s, create_token(s, "kim@shoe.example", "new").token) is not None
        again = users.enable(s, kim, actor_id=owner)
        assert again.user.active and not again.changed  # twice changes nothing, and says so
    with db.session(write=True) as s, pytest.raises(NotFound):
        users.enable(s, 999, actor_id=owner)


def test_set_password_twice_typed_ends_their_sessions(db: Database) -> None:
    owner = make(db, "owner@shoe.example", "owner", session=True)
    kim = make(db, "kim@shoe.example", "staff", session=True)
    with db.session(write=True) as s, pytest.raises(ValidationFailed) as caught:
        users.set_password(s, kim, NEW, NEW.upper(), actor_id=owner, hasher=FAST)
    assert caught.value.field == "password_repeat"
    with db.session(write=True) as s, pytest.raises(ValidationFailed) as caught:
        users.set_password(s, kim, "short", "short", actor_id=owner, hasher=FAST)
    assert caught.value.field == "password"
    with db.session() as s:
        assert sorted(s.scalars(select(WebSession.user_id))) == [owner, kim]
    with db.session(write=True) as s:
        users.set_password(s, kim, NEW, NEW, actor_id=owner, hasher=FAST)
    with db.session() as s:
        assert s.scalars(select(WebSession.user_id)).all() == [owner]
        assert verify_password(s, "kim@shoe.example", NEW, hasher=FAST) is not None
        assert verify_password(s, "kim@shoe.example", GOOD, hasher=FAST) is None


def test_changes_are_logged_by_id_and_role_without_e_mail(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    owner = make(db, "owner@shoe.example", "owner")
    caplog.set_level(logging.INFO, logger="ravingfans")
    with db.session(write=True) as s:
        kim = users.add_user(s, "kim@shoe.example", "staff", GOOD, GOOD, actor_id=owner, hasher=FAST).id
        users.change_role(s, kim, "manager", actor_id=owner)
        users.set_password(s, kim, NEW, NEW, actor_id=owner, hasher=FAST)
        users.disable(s, kim, actor_id=owner)
        users.enable(s, kim, actor_id=owner)
    text = caplog.text
    assert f"user enabled on the web: id={kim} role=manager by={owner}" in text
    assert f"user role changed: id={kim} from=staff to=manager by={owner}" in text
    assert f"user disabled on the web: id={kim} role=manager by={owner}" in text
    assert f"password set on the web: id={kim}" in text and f"user added on the web: id={kim} role=staff" in text
    assert "@" not in text and GOOD not in text and NEW not in text


def test_two_owners_demoting_each_other_at_once_leave_one_owner(db: Database) -> None:
    first = make(db, "first@shoe.example", "owner")
    second = make(db, "second@shoe.example", "owner")
    outcome: list[str] = []
    started = threading.Event()

    def demote_second() -> None:
        started.set()
        try:
            with db.session(write=True) as s:
                users.change_role(s, second, "manager", actor_id=second)
            outcome.append("demoted")
        except Conflict:
            outcome.append("refused")

    with db.session(write=True) as s:
        users.change_role(s, first, "manager", actor_id=first)  # owners' rows are locked until this commits
        other = threading.Thread(target=demote_second)
        other.start()
        started.wait(5)
        other.join(0.5)  # it waits for the lock (SQLite: the write lock; PostgreSQL: the owners' rows)
        assert other.is_alive()
    other.join(30)
    assert outcome == ["refused"]
    assert role_of(db, first) == ("manager", True) and role_of(db, second) == ("owner", True)
