"""Who is calling the API: a personal access token sent as ``Authorization: Bearer rf_...``, and role checks.

The API takes no cookies, so it needs no CSRF token: a browser never attaches a bearer token on its
own. Every API route needs at least :data:`ApiStaff`; routes that change customers, orders or
products ask for :data:`ApiManager`. Roles rank as on the pages (:func:`ravingfans.web.auth.role_allows`).
Refusals are logged by user id and role, never with the token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.errors import NotSignedIn, PermissionDenied
from ravingfans.services import idempotency
from ravingfans.services.accounts import find_token, record_token_use, token_use_is_stale
from ravingfans.services.sessions import Principal, SessionPolicy
from ravingfans.services.token_throttle import refuse_token
from ravingfans.web.auth import address_of, role_allows

log = logging.getLogger(__name__)

bearer = HTTPBearer(auto_error=False, scheme_name="token", bearerFormat="rf_...",
                    description="A personal access token: `ravingfans token create --user EMAIL` prints one.")


def token_principal(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """The active user whose live token the request carries; NotSignedIn without one (looked up once per request)."""
    cached = getattr(request.state, "api_principal", None)
    if isinstance(cached, Principal):
        return cached
    if credentials is None:
        raise NotSignedIn("This API needs a personal access token: send Authorization: Bearer rf_...",
                          hint="Make one with `ravingfans token create --user EMAIL`.")
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    policy: SessionPolicy = request.app.state.session_policy
    with database.session() as session:  # an API read takes no write lock
        holder = find_token(session, credentials.credentials)
    if holder is not None and token_use_is_stale(holder):
        with database.session(write=True) as session:
            record_token_use(session, holder.token_id)
    if holder is None:
        with database.session(write=True) as session:
            refuse_token(session, address_of(request), settings.secret_key.get_secret_value(), policy)
        raise NotSignedIn("The token is not valid: it is unknown, revoked, or its user is disabled.",
                          hint="Make a new one with `ravingfans token create --user EMAIL`.")
    principal = Principal(user_id=holder.user_id, email=holder.email, role=holder.role)
    request.state.api_principal = principal
    return principal


def require_token(needed: str) -> Callable[[Principal, Request], Coroutine[Any, Any, Principal]]:
    """A dependency: the token's user if their role is at least ``needed``, else PermissionDenied.

    ``async``: the check reads no database, and a plain ``def`` would cost a hand-off to a worker thread.
    """

    async def dependency(principal: Annotated[Principal, Depends(token_principal)], request: Request) -> Principal:
        if not role_allows(principal.role, needed):
            log.warning("permission refused: user_id=%s role=%s needs=%s %s %s", principal.user_id, principal.role,
                        needed, request.method, request.url.path)
            raise PermissionDenied(f"Your role ({principal.role}) cannot do this; it needs a {needed} or above.",
                                   hint="Use a token of a user with that role.")
        return principal

    dependency.__name__ = f"api_require_{needed}"
    return dependency


ApiStaff = Annotated[Principal, Depends(require_token("staff"))]
ApiManager = Annotated[Principal, Depends(require_token("manager"))]
ApiOwner = Annotated[Principal, Depends(require_token("owner"))]


@dataclass(frozen=True)
class IdempotentRequest:
    """A create's ``Idempotency-Key`` (None when not sent), its path and the fingerprint of its body."""

    key: str | None
    route: str
    fingerprint: str


async def idempotent_request(
    request: Request,
    key: Annotated[str | None, Header(
        alias=idempotency.HEADER, max_length=255, pattern=idempotency.KEY_PATTERN,
        description="Any unique string (a UUID is good). Sending the same request again with the same key "
                    "returns the first answer instead of creating a second record; the same key with a "
                    "different request is refused with 409. Keys are kept for 24 hours.")] = None,
) -> IdempotentRequest:
    """The request's idempotency key and fingerprint (the body was already read and cached by FastAPI)."""
    body = await request.body()
    return IdempotentRequest(key=key, route=request.url.path,
                             fingerprint=idempotency.fingerprint(request.method, request.url.path, body))


Idempotency = Annotated[IdempotentRequest, Depends(idempotent_request)]
