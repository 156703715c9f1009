"""Accounts: users who sign in with a role, their argon2id password hashes, and API access tokens.

Passwords follow NIST SP 800-63B-4 §3.1.1.2: at least 8 characters, long ones (up to 1024) accepted,
no composition rules, refused when on a list of commonly used passwords; compared after Unicode
NFKC normalisation so the same password typed on two keyboards matches. They are hashed with
Argon2id (RFC 9106) through argon2-cffi, whose defaults are RFC 9106's second recommended profile.
API tokens are 32 random bytes from ``secrets`` (256 bits), shown once and stored as their SHA-256:
a fast hash is enough for a uniformly random secret of that size (no dictionary to try).
Logs name users by id and role only, never by e-mail, and never carry a password, token or hash.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import unicodedata
from datetime import datetime, timedelta
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import ROLES, ApiToken, User
from ravingfans.errors import NotFound, TooManyAttempts, ValidationFailed
from ravingfans.ingest.normalize import normalize_email
from ravingfans.services.sessions import (
    OpenedSession,
    SessionPolicy,
    clear_account_failures,
    close_user_sessions,
    open_session,
    purge_expired,
    record_failure,
    retry_after,
)

log = logging.getLogger(__name__)

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_PREFIX = "rf_"
MAX_TOKEN_NAME = 120
TOKEN_TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is written at most once a minute per token

# argon2-cffi's defaults: Argon2id, t=3, m=64 MiB, p=4 (RFC 9106 §4, second recommended option).
DEFAULT_HASHER = PasswordHasher()


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of 10,000 common passwords (zxcvbn's, see docs/NOTICE.md), lower-cased."""
    text = files("ravingfans.services").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.lower() for line in text.splitlines() if line and not line.startswith("#"))


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of a random password with ``hasher``'s costs, checked for unknown e-mails to even out timing."""
    return hasher.hash(secrets.token_urlsafe(16))


def _normalise_password(password: str) -> str:
    """NFKC form of the password (NIST SP 800-63B-4 §3.1.1.2 asks verifiers to normalise Unicode)."""
    return unicodedata.normalize("NFKC", password)


def check_password(password: str) -> str:
    """The normalised password, or ValidationFailed saying what to change."""
    normalised = _normalise_password(password)
    if len(normalised) < MIN_PASSWORD:
        raise ValidationFailed(f"The password has {len(normalised)} characters; it needs at least {MIN_PASSWORD}.",
                               field="password", hint="Choose a longer one: a few unrelated words work well.")
    if len(normalised) > MAX_PASSWORD:
        raise ValidationFailed(f"The password has {len(normalised)} characters; at most {MAX_PASSWORD} are accepted.",
                               field="password", hint="Choose a shorter one.")
    if normalised.lower() in common_passwords():
        raise ValidationFailed("That password is on the list of commonly used passwords, which attackers try first.",
                               field="password", hint="Choose another: a few unrelated words work well.")
    return normalised


def _email(email: str) -> str:
    """The lower-cased address, or ValidationFailed naming the field."""
    try:
        normalised = normalize_email(email)
    except ValueError as exc:
        raise ValidationFailed(f"{email!r} is {exc}.", field="email") from None
    if normalised is None:
        raise ValidationFailed("The e-mail address is empty.", field="email", hint="Give one like name@example.com.")
    if len(normalised) > 254:
        raise ValidationFailed("The e-mail address is longer than 254 characters.", field="email")
    return normalised


def _role(role: str) -> str:
    """The role, or ValidationFailed listing the allowed ones."""
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}.", field="role", hint=f"Use one of: {', '.join(ROLES)}.")
    return role


def get_user(session: Session, email: str) -> User:
    """The user with this e-mail address; NotFound when there is none."""
    normalised = _email(email)
    user = session.scalar(select(User).where(User.email == normalised))
    if user is None:
        raise NotFound(f"No user with e-mail {normalised}.", hint="See the users with `ravingfans user list`.")
    return user


def add_user(session: Session, email: str, role: str, password: str, *, clock: Clock = utcnow,
             hasher: PasswordHasher = DEFAULT_HASHER) -> User:
    """Create an active user with an argon2id hash of ``password``; the e-mail must be new."""
    normalised = _email(email)
    _role(role)
    secret = check_password(password)
    if session.scalar(select(User.id).where(User.email == normalised)) is not None:
        raise ValidationFailed(f"A user with e-mail {normalised} already exists.", field="email",
                               hint="Use another address, or disable the old account first and pick a new address.")
    user = User(email=normalised, role=role, password_hash=hasher.hash(secret), active=True, created_at=clock())
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # another process added the same address in between
        raise ValidationFailed(f"A user with e-mail {normalised} already exists.", field="email") from None
    log.info("user added: id=%s role=%s", user.id, role)
    return user


def verify_password(session: Session, email: str, password: str, *,
                    hasher: PasswordHasher = DEFAULT_HASHER) -> User | None:
    """The active user whose password this is, else None; an Argon2 check runs whatever the e-mail.

    Unknown and disabled e-mails are checked against a dummy hash so that the time taken does not
    tell an attacker which addresses have accounts (OWASP Authentication Cheat Sheet).
    """
    try:
        normalised = _email(email)
    except ValidationFailed:
        normalised = None
    user = session.scalar(select(User).where(User.email == normalised)) if normalised else None
    stored = user.password_hash if user is not None else _dummy_hash(hasher)
    try:
        hasher.verify(stored, _normalise_password(password))
        matched = True
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        matched = False
    if not matched or user is None or not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):  # costs were raised since: upgrade the stored hash
        user.password_hash = hasher.hash(_normalise_password(password))
    return user


def disable_user(session: Session, email: str, *, clock: Clock = utcnow) -> User:
    """Stop a user signing in, end their sessions and revoke every token they hold; twice changes nothing."""
    user = get_user(session, email)
    now = clock()
    if user.active:
        user.active = False
        user.disabled_at = now
    revoked = session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    ).rowcount
    ended = close_user_sessions(session, user.id)
    log.info("user disabled: id=%s tokens_revoked=%s sessions_ended=%s", user.id, revoked, ended)
    return user


@dataclass(frozen=True, slots=True)
class Enabled:
    """The user after :func:`enable_user`, and whether it changed anything (False: they were active already)."""

    user: User
    changed: bool


def enable_user(session: Session, email: str) -> Enabled:
    """Let a disabled user sign in again with their password; twice changes nothing (and says so).

    The API tokens revoked when they were disabled stay revoked: a token handed out before is not
    trusted again by accident, and the user creates new ones.
    """
    user = get_user(session, email)
    if user.active:
        return Enabled(user, changed=False)
    user.active = True
    user.disabled_at = None
    session.flush()
    log.info("user enabled: id=%s role=%s", user.id, user.role)
    return Enabled(user, changed=True)


def list_users(session: Session) -> list[User]:
    """Every user, active or not, by e-mail."""
    return list(session.scalars(select(User).order_by(User.email)))


def _token_hash(token: str) -> str:
    """SHA-256 of the token, hex: what the database keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token just made: its id and name, and the secret itself, which is never shown again."""

    id: int
    name: str
    token: str


def create_token(session: Session, user_email: str, name: str, *, clock: Clock = utcnow) -> IssuedToken:
    """A new API token for an active user; the secret is returned once, only its SHA-256 is stored."""
    user = get_user(session, user_email)
    if not user.active:
        raise ValidationFailed(f"The user {user.email} is disabled; tokens are only made for active users.",
                               field="user")
    label = name.strip()
    if not label or len(label) > MAX_TOKEN_NAME:
        raise ValidationFailed(f"A token name needs 1 to {MAX_TOKEN_NAME} characters.", field="name",
                               hint="Name it after what will use it, e.g. 'bookkeeping sync'.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=label, token_hash=_token_hash(token), created_at=clock())
    session.add(row)
    session.flush()
    log.info("token created: id=%s user_id=%s", row.id, user.id)
    return IssuedToken(id=row.id, name=row.name, token=token)


@dataclass(frozen=True)
class TokenHolder:
    """Who a live token belongs to, and when the token was last used (for deciding whether to record a use)."""

    token_id: int
    user_id: int
    email: str
    role: str
    last_used_at: datetime | None


def find_token(session: Session, token: str) -> TokenHolder | None:
    """The active user a live token belongs to, else None; reads only (an API read stays a read)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = session.execute(
        select(ApiToken.id, User.id, User.email, User.role, ApiToken.last_used_at)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None), User.active.is_(True))
    ).first()
    return TokenHolder(*found) if found is not None else None


def token_use_is_stale(holder: TokenHolder, *, clock: Clock = utcnow) -> bool:
    """Whether the token's last-used time is over a minute old, so recording this use is worth a write."""
    return holder.last_used_at is None or clock() - holder.last_used_at >= TOKEN_TOUCH_EVERY


def record_token_use(session: Session, token_id: int, *, clock: Clock = utcnow) -> None:
    """Note that a token was just used (shown by `ravingfans token` listings and audits)."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=clock()))


def token_user(session: Session, token: str, *, clock: Clock = utcnow) -> User | None:
    """The active user a live token belongs to, else None; records the use (at most once a minute)."""
    holder = find_token(session, token)
    if holder is None:
        return None
    if token_use_is_stale(holder, clock=clock):
        record_token_use(session, holder.token_id, clock=clock)
    return session.get(User, holder.user_id)


def revoke_token(session: Session, token_id: int, *, clock: Clock = utcnow) -> ApiToken:
    """Revoke a token by id so it no longer works; revoking twice keeps the first time."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"No API token with id {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = clock()
        log.info("token revoked: id=%s user_id=%s", row.id, row.user_id)
    return row


def sign_in(session: Session, email: str, password: str, *, address: str, secret: str, policy: SessionPolicy,
            replaces: str | None = None, clock: Clock = utcnow,
            hasher: PasswordHasher = DEFAULT_HASHER) -> OpenedSession | None:
    """A new session when the password is right; None (the failure counted) when not.

    Raises TooManyAttempts, before any password check, while the account or the address is waiting.
    """
    purge_expired(session, policy, clock=clock)  # sign-ins are rare: a good moment to drop dead rows
    waiting = retry_after(session, email, address, secret, policy, clock=clock)
    if waiting is not None:
        scope, seconds = waiting
        log.warning("sign-in throttled: scope=%s retry_after=%s", scope, seconds)
        minutes = max(1, round(seconds / 60))
        raise TooManyAttempts(
            f"Too many failed sign-ins {'for this account' if scope == 'account' else 'from this address'}.",
            retry_after=seconds, hint=f"Wait about {minutes} minute{'s' if minutes != 1 else ''} and try again.")
    user = verify_password(session, email, password, hasher=hasher)
    if user is None:
        record_failure(session, email, address, secret, clock=clock)
        return None
    clear_account_failures(session, email, secret)
    return open_session(session, user, policy, replaces=replaces, clock=clock)


def set_password(session: Session, email: str, password: str, *,
                 hasher: PasswordHasher = DEFAULT_HASHER) -> User:
    """Give a user a new password and end their sessions, so a stolen session dies with the old password."""
    user = get_user(session, email)
    user.password_hash = hasher.hash(check_password(password))
    ended = close_user_sessions(session, user.id)
    log.info("password changed: id=%s sessions_ended=%s", user.id, ended)
    return user


def count_active_users(session: Session) -> int:
    """How many users can sign in (zero means the web app is not usable yet)."""
    return int(session.scalar(select(func.count()).select_from(User).where(User.active.is_(True))) or 0)
