"""Managing users from the web: look-ups by id, adding, role changes, disabling, enabling and new passwords.

The rules live here so every edge enforces the same ones: the business always keeps at least one
active owner (nobody can demote or disable the last one), and nobody disables their own account
(another owner does that). Active owners' rows are locked while the count is checked, so two owners
demoting each other at the same moment cannot leave the business without one (PostgreSQL; SQLite
writes are serialised already). Passwords follow :func:`ravingfans.services.accounts.check_password`,
typed twice. Logs name users by id and role only, never by e-mail.
"""

from __future__ import annotations

import logging

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import ROLES, User
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services import accounts

log = logging.getLogger(__name__)

OWNER = "owner"


def get_user_by_id(session: Session, user_id: int) -> User:
    """The user with this id; NotFound when there is none."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user number {user_id}.", hint="See every user on the Users page.")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, active or disabled, by e-mail (one query)."""
    return accounts.list_users(session)


def confirmed_password(password: str, repeated: str) -> str:
    """The password when both typings match and it follows the password rules; else ValidationFailed."""
    if password != repeated:
        raise ValidationFailed("The two passwords are not the same.", field="password_repeat",
                               hint="Type the same password in both boxes.")
    return accounts.check_password(password)


def _checked_role(role: str) -> str:
    """The role, or ValidationFailed listing the allowed ones."""
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}.", field="role", hint=f"Use one of: {', '.join(ROLES)}.")
    return role


def _other_active_owners(session: Session, user_id: int) -> int:
    """How many active owners there are besides ``user_id``, their rows locked until the transaction ends."""
    owners = session.scalars(
        select(User.id).where(User.role == OWNER, User.active.is_(True)).order_by(User.id).with_for_update()
    ).all()
    return sum(1 for owner_id in owners if owner_id != user_id)


def _keep_an_owner(session: Session, user: User, action: str) -> None:
    """Conflict when ``user`` is the last active owner, who must not be demoted or disabled."""
    if user.role == OWNER and user.active and _other_active_owners(session, user.id) == 0:
        raise Conflict(f"This is the only active owner, who cannot be {action}: the business needs an owner.",
                       hint="Make another user an owner first.")


def add_user(session: Session, email: str, role: str, password: str, repeated: str, *, actor_id: int,
             clock: Clock = utcnow, hasher: PasswordHasher = accounts.DEFAULT_HASHER) -> User:
    """Add an active user (the same rules as `ravingfans user add`), the password typed twice."""
    confirmed_password(password, repeated)
    user = accounts.add_user(session, email, role, password, clock=clock, hasher=hasher)
    log.info("user added on the web: id=%s role=%s by=%s", user.id, user.role, actor_id)
    return user


def change_role(session: Session, user_id: int, role: str, *, actor_id: int) -> User:
    """Give a user another role; the last active owner keeps theirs. Takes effect on their next request."""
    user = get_user_by_id(session, user_id)
    new_role = _checked_role(role)
    if new_role == user.role:
        return user
    if new_role != OWNER:
        _keep_an_owner(session, user, "made a " + new_role)
    old_role, user.role = user.role, new_role
    session.flush()
    log.info("user role changed: id=%s from=%s to=%s by=%s", user.id, old_role, new_role, actor_id)
    return user


def disable(session: Session, user_id: int, *, actor_id: int, clock: Clock = utcnow) -> User:
    """Disable another user: they cannot sign in, and their sessions and API tokens end."""
    user = get_user_by_id(session, user_id)
    if user.id == actor_id:
        raise Conflict("You cannot disable your own account.",
                       hint="Another owner can disable it; or give the account a new password instead.")
    _keep_an_owner(session, user, "disabled")
    accounts.disable_user(session, user.email, clock=clock)
    log.info("user disabled on the web: id=%s role=%s by=%s", user.id, user.role, actor_id)
    return user


def enable(session: Session, user_id: int, *, actor_id: int) -> accounts.Enabled:
    """Let a disabled user sign in again (their revoked API tokens stay revoked); says whether anything changed."""
    result = accounts.enable_user(session, get_user_by_id(session, user_id).email)
    if result.changed:
        log.info("user enabled on the web: id=%s role=%s by=%s", result.user.id, result.user.role, actor_id)
    return result


def set_password(session: Session, user_id: int, password: str, repeated: str, *, actor_id: int,
                 hasher: PasswordHasher = accounts.DEFAULT_HASHER) -> User:
    """Give a user a new password (typed twice); every session they have open ends."""
    user = get_user_by_id(session, user_id)
    confirmed_password(password, repeated)
    accounts.set_password(session, user.email, password, hasher=hasher)
    log.info("password set on the web: id=%s role=%s by=%s", user.id, user.role, actor_id)
    return user
