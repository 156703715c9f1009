"""Rate limits of the public survey page, in the table failed sign-ins use (so every server process agrees).

Three counters over a sliding 15-minute window (the window sign-in pruning keeps): links refused per
network address (unknown, expired: someone trying tokens), answers sent per link, and answers sent per
address. Reading a valid link is never counted. Keys are HMAC-SHA256 under the secret key of the
address or the token's hash, so the table holds no address and no token. A caller over a limit gets
the seconds to wait (for ``Retry-After``) instead of an exception, so the page can answer in the
customer's language.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import LoginFailure
from ravingfans.services.surveys import token_hash

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=15)
BAD_LINKS_PER_ADDRESS = 20
ANSWERS_PER_LINK = 10
ANSWERS_PER_ADDRESS = 60
SCOPE_BAD = "survey_bad"
SCOPE_LINK = "survey_tok"
SCOPE_ADDRESS = "survey_ip"


def _key(secret: str, scope: str, value: str) -> str:
    return hmac.new(secret.encode("utf-8"), f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()


def _count(session: Session, scope: str, key: str, limit: int, clock: Clock) -> int | None:
    """Count one event; the seconds to wait when ``limit`` events were already counted in the window."""
    now = clock()
    since = now - WINDOW
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.failed_at))
        .where(LoginFailure.scope == scope, LoginFailure.key_hash == key, LoginFailure.failed_at > since)).one()
    if count >= limit:
        log.warning("survey page throttled: scope=%s", scope)
        return max(1, int((oldest + WINDOW - now).total_seconds()) + 1)
    session.add(LoginFailure(scope=scope, key_hash=key, failed_at=now))
    session.flush()
    return None


def refused_link(session: Session, address: str, secret: str, *, clock: Clock = utcnow) -> int | None:
    """Count a refused survey link from ``address``; seconds to wait once the address is over its limit."""
    return _count(session, SCOPE_BAD, _key(secret, SCOPE_BAD, address), BAD_LINKS_PER_ADDRESS, clock)


def answer_attempt(session: Session, token: str, address: str, secret: str, *, clock: Clock = utcnow) -> int | None:
    """Count answers sent through one link and from one address; seconds to wait when either is over."""
    wait = _count(session, SCOPE_LINK, _key(secret, SCOPE_LINK, token_hash(token)), ANSWERS_PER_LINK, clock)
    if wait is not None:
        return wait
    return _count(session, SCOPE_ADDRESS, _key(secret, SCOPE_ADDRESS, address), ANSWERS_PER_ADDRESS, clock)
