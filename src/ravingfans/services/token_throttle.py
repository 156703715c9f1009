"""Throttling of failed API token checks per network address, in the table sign-in failures use.

Tokens are 256-bit random secrets, so guessing one is hopeless; the throttle keeps a client that
sends bad tokens in a loop from costing the server a lookup each time. Only refused tokens count
and only they are answered 429: a valid token from the same address always works, so nobody can
lock an integrator out by sending bad tokens from its network. Addresses are kept as HMAC-SHA256
under the secret key, never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import LoginFailure
from ravingfans.errors import TooManyAttempts
from ravingfans.services.sessions import SessionPolicy

log = logging.getLogger(__name__)

SCOPE = "token"


def _address_key(secret: str, address: str) -> str:
    return hmac.new(secret.encode("utf-8"), f"{SCOPE}:{address}".encode(), hashlib.sha256).hexdigest()


def refuse_token(session: Session, address: str, secret: str, policy: SessionPolicy, *,
                 clock: Clock = utcnow) -> None:
    """Count a refused token from ``address``; TooManyAttempts once the address is over its limit."""
    now = clock()
    key = _address_key(secret, address)
    session.add(LoginFailure(scope=SCOPE, key_hash=key, failed_at=now))
    session.flush()
    since = now - policy.window
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.failed_at))
        .where(LoginFailure.scope == SCOPE, LoginFailure.key_hash == key, LoginFailure.failed_at > since)
    ).one()
    log.warning("api token refused")
    if count > policy.max_failures_per_address:
        wait = max(1, int((oldest + policy.window - now).total_seconds()) + 1)
        log.warning("api token checks throttled: retry_after=%s", wait)
        raise TooManyAttempts("Too many refused tokens from this address.", retry_after=wait,
                              hint="Check the token you send; make a new one with `ravingfans token create`.")
