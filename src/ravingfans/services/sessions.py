"""Sign-in sessions and sign-in throttling, kept in the database so every server process agrees.

A session's secret is 32 random bytes (256 bits, OWASP Session Management Cheat Sheet asks for at
least 64 bits of entropy) carried in the cookie; the table keeps only its SHA-256, so a copy of the
database opens no browser. Each session has its own CSRF token (the synchronizer-token pattern of the
OWASP CSRF Prevention Cheat Sheet). Sessions end after an idle time and at an absolute expiry.

Failed sign-ins are counted per account and per network address over a sliding window; the keys are
HMAC-SHA256 of the e-mail or address under the secret key, so the table holds no personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import LoginFailure, User, WebSession
from ravingfans.db.reads import read_rows

log = logging.getLogger(__name__)

SESSION_BYTES = 32
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most once a minute, not on every page


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live and how many failed sign-ins are allowed before a wait."""

    idle: timedelta = timedelta(minutes=60)
    absolute: timedelta = timedelta(hours=12)
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: the user's id, e-mail and role, and the session's CSRF token (if a browser)."""

    user_id: int
    email: str
    role: str
    session_id: str | None = None
    csrf_token: str | None = None
    last_seen_at: datetime | None = None


@dataclass(frozen=True)
class OpenedSession:
    """A session just started: the cookie secret (shown to the browser only) and what the server knows."""

    token: str
    principal: Principal
    expires_at: datetime


def _digest(token: str) -> str:
    """SHA-256 of a session secret, hex: the session's id in the table."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(session: Session, user: User, policy: SessionPolicy, *, replaces: str | None = None,
                 clock: Clock = utcnow) -> OpenedSession:
    """Start a session for ``user`` with a new secret; the one it ``replaces`` (if any) ends (rotation at login)."""
    now = clock()
    if replaces:
        session.execute(delete(WebSession).where(WebSession.id == _digest(replaces)))
    token = secrets.token_urlsafe(SESSION_BYTES)
    row = WebSession(id=_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32), created_at=now,
                     last_seen_at=now, expires_at=now + policy.absolute)
    session.add(row)
    user.last_login_at = now
    session.flush()
    log.info("signed in: user_id=%s role=%s", user.id, user.role)
    return OpenedSession(token=token, expires_at=row.expires_at, principal=Principal(
        user_id=user.id, email=user.email, role=user.role, session_id=row.id, csrf_token=row.csrf_token,
        last_seen_at=now))


# Read on every page: built once, so no request pays for building the statement and its cache key.
_ACTIVE_SESSION = (select(WebSession.id, WebSession.csrf_token, WebSession.last_seen_at, WebSession.expires_at,
                          User.id, User.email, User.role)
                   .join(User, User.id == WebSession.user_id)
                   .where(WebSession.id == bindparam("digest"), User.active.is_(True)))


def find_session(session: Session, token: str, policy: SessionPolicy, *, clock: Clock = utcnow) -> Principal | None:
    """The active user behind a session secret, or None when unknown, idle too long, expired or disabled."""
    if not token or len(token) > 128:
        return None
    now = clock()
    found = read_rows(session, _ACTIVE_SESSION, {"digest": _digest(token)}).first()
    if found is None:
        return None
    session_id, csrf, last_seen, expires, user_id, email, role = found
    if now >= expires or now - last_seen >= policy.idle:
        return None
    return Principal(user_id=user_id, email=email, role=role, session_id=session_id, csrf_token=csrf,
                     last_seen_at=last_seen)


def needs_touch(principal: Principal, *, clock: Clock = utcnow) -> bool:
    """Whether the session's last-seen time is stale enough to be worth writing."""
    return principal.last_seen_at is None or clock() - principal.last_seen_at >= TOUCH_EVERY


def touch_session(session: Session, session_id: str, *, clock: Clock = utcnow) -> None:
    """Record that the session was just used, which pushes its idle timeout back."""
    session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=clock()))


def close_session(session: Session, token: str) -> int | None:
    """End the session with this secret (sign-out); the user's id, or None when it was not open."""
    digest = _digest(token)
    user_id = session.scalar(select(WebSession.user_id).where(WebSession.id == digest))
    session.execute(delete(WebSession).where(WebSession.id == digest))
    if user_id is not None:
        log.info("signed out: user_id=%s", user_id)
    return user_id


def close_user_sessions(session: Session, user_id: int) -> int:
    """End every session of a user (disabled, or password changed); how many ended."""
    return session.execute(delete(WebSession).where(WebSession.user_id == user_id)).rowcount or 0


def purge_expired(session: Session, policy: SessionPolicy, *, clock: Clock = utcnow) -> int:
    """Delete sessions past their expiry or idle limit and failures older than the window; how many rows went."""
    now = clock()
    gone = session.execute(delete(WebSession).where(
        (WebSession.expires_at <= now) | (WebSession.last_seen_at <= now - policy.idle))).rowcount or 0
    gone += session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - policy.window)).rowcount or 0
    return gone


def _key(secret: str, scope: str, value: str) -> str:
    """HMAC-SHA256 of what is throttled (an e-mail or an address), so the table holds no personal data."""
    return hmac.new(secret.encode("utf-8"), f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()


def _account(email: str) -> str:
    """The account an e-mail names, normalised as sign-in reads it, so spellings of one address share a count."""
    from ravingfans.ingest.normalize import normalize_email

    try:
        return normalize_email(email) or ""
    except ValueError:
        return email.strip().lower()


def _keys(secret: str, email: str, address: str) -> list[tuple[str, str]]:
    return [("account", _key(secret, "account", _account(email))), ("address", _key(secret, "address", address))]


def retry_after(session: Session, email: str, address: str, secret: str, policy: SessionPolicy, *,
                clock: Clock = utcnow) -> tuple[str, int] | None:
    """``(scope, seconds)`` to wait when the account or the address has too many recent failures, else None."""
    now = clock()
    since = now - policy.window
    limits = {"account": policy.max_failures_per_account, "address": policy.max_failures_per_address}
    for scope, key in _keys(secret, email, address):
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.failed_at))
            .where(LoginFailure.scope == scope, LoginFailure.key_hash == key, LoginFailure.failed_at > since)
        ).one()
        if count >= limits[scope]:
            # The wait ends when enough failures age out of the window to drop below the limit.
            cutoff = session.scalar(
                select(LoginFailure.failed_at)
                .where(LoginFailure.scope == scope, LoginFailure.key_hash == key, LoginFailure.failed_at > since)
                .order_by(LoginFailure.failed_at.desc()).offset(limits[scope] - 1).limit(1)
            ) or oldest
            wait = int((cutoff + policy.window - now).total_seconds()) + 1
            return scope, max(1, wait)
    return None


def record_failure(session: Session, email: str, address: str, secret: str, *, clock: Clock = utcnow) -> None:
    """Count a failed sign-in against the account and the address."""
    now = clock()
    for scope, key in _keys(secret, email, address):
        session.add(LoginFailure(scope=scope, key_hash=key, failed_at=now))
    log.warning("sign-in failed")


def clear_account_failures(session: Session, email: str, secret: str) -> None:
    """Forget an account's failed sign-ins once its owner signs in (the address count stays)."""
    scope, key = _keys(secret, email, "")[0]
    session.execute(delete(LoginFailure).where(LoginFailure.scope == scope, LoginFailure.key_hash == key))
