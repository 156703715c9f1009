"""Who is asking: the signed-in browser session, role checks and CSRF checks, as FastAPI dependencies.

Every page route declares the least role it needs with :data:`StaffUser`, :data:`ManagerUser` or
:data:`OwnerUser` (roles rank staff < manager < owner). The same dependency refuses a form post whose
CSRF token does not match the session's (from the ``csrf_token`` field or the ``X-CSRF-Token``
header), so no handler checks permissions or tokens itself. Refusals are logged by user id and role.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.errors import NotSignedIn, PermissionDenied
from ravingfans.services.sessions import Principal, SessionPolicy, find_session, needs_touch, touch_session
from ravingfans.web.deps import read_business_details

log = logging.getLogger(__name__)

SESSION_COOKIE = "rf_session"
LOGIN_COOKIE = "rf_login"  # a random nonce that the sign-in form's CSRF token is signed against
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
ROLE_RANK = {"staff": 1, "manager": 2, "owner": 3}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_policy(settings: Settings) -> SessionPolicy:
    """The session and throttling limits the settings ask for."""
    return SessionPolicy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_max_hours),
        max_failures_per_account=settings.login_max_failures,
        max_failures_per_address=settings.login_max_failures_per_address,
        window=timedelta(minutes=settings.login_lockout_minutes),
    )


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` ranks at least as high as ``needed``."""
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[needed]


def session_principal(request: Request) -> Principal | None:
    """The user signed in on this browser, or None; looked up once per request and cached on it."""
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    principal = request.state.principal = None  # a failed lookup (database down) is "not signed in"
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        database: Database = request.app.state.database
        policy: SessionPolicy = request.app.state.session_policy
        with database.session() as session:
            principal = find_session(session, token, policy)
            if principal is not None and not hasattr(request.state, "business"):
                read_business_details(request, session)  # every signed-in page is drawn with them
        if principal is not None and principal.session_id and needs_touch(principal):
            with database.session(write=True) as session:
                touch_session(session, principal.session_id)
    request.state.principal = principal
    return principal


async def principal_of(request: Request) -> Principal | None:
    """:func:`session_principal` for async code: its database lookup runs in a worker thread.

    Run on the event loop, the lookup blocked every request whenever the pool was out of connections:
    the loop waited for a connection that only the loop itself could free (by finishing the requests
    holding them), so under load the server froze until the pool gave up, 30 s later.
    """
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    return await run_in_threadpool(session_principal, request)


def address_of(request: Request) -> str:
    """The client's network address (behind a proxy, the one uvicorn trusts it to report)."""
    return request.client.host if request.client else "unknown"


async def _submitted_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches the parsed form; the handler reads the same one
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def require(needed: str) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency: the signed-in user if their role is at least ``needed`` and, on a write, the CSRF token matches."""

    async def dependency(request: Request) -> Principal:
        principal = await principal_of(request)
        if principal is None:
            raise NotSignedIn("Please sign in to see this page.", hint="Your session may have ended; sign in again.")
        if request.method not in SAFE_METHODS:
            submitted = await _submitted_csrf(request)
            if not (principal.csrf_token and hmac.compare_digest(submitted.encode(), principal.csrf_token.encode())):
                log.warning("csrf refused: user_id=%s %s %s", principal.user_id, request.method, request.url.path)
                raise PermissionDenied("This form has expired or did not come from this site, so nothing was changed.",
                                       hint="Go back, reload the page and send it again.")
        if not role_allows(principal.role, needed):
            log.warning("permission refused: user_id=%s role=%s needs=%s %s %s", principal.user_id, principal.role,
                        needed, request.method, request.url.path)
            raise PermissionDenied(f"Your role ({principal.role}) cannot do this; it needs a {needed} or above.",
                                   hint="Ask the owner of this account if you need it.")
        return principal

    dependency.__name__ = f"require_{needed}"
    return dependency


async def signed_in_or_not(request: Request) -> Principal | None:
    """The signed-in user (their CSRF token checked on a write), or None: for sign-out, which works either way."""
    if await principal_of(request) is None:
        return None
    return await require("staff")(request)


SignedInOrNot = Annotated[Principal | None, Depends(signed_in_or_not)]
StaffUser = Annotated[Principal, Depends(require("staff"))]
ManagerUser = Annotated[Principal, Depends(require("manager"))]
OwnerUser = Annotated[Principal, Depends(require("owner"))]


def csrf_field(request: Request) -> Markup:
    """The hidden CSRF input every form on a signed-in page carries (a template global)."""
    principal = session_principal(request)
    token = principal.csrf_token if principal is not None and principal.csrf_token else ""
    # escape() and an f-string, not Markup.format (its string.Formatter was a tenth of a profile's rendering:
    # the profile draws this once per note and moment it shows)
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(token)}">')


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    """Hand the browser its session secret: HttpOnly, SameSite=Lax, Secure when served over HTTPS."""
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")


def clear_session_cookie(response: Response, request: Request) -> None:
    """Tell the browser to forget its session secret."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")


def login_nonce(request: Request) -> tuple[str, bool]:
    """The sign-in form's nonce from its cookie, or a new one (and True: the cookie must be set)."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if 20 <= len(nonce) <= 64:
        return nonce, False
    return secrets.token_urlsafe(24), True


def login_csrf(secret: str, nonce: str) -> str:
    """The sign-in form's CSRF token: HMAC of the cookie's nonce (OWASP's signed double-submit cookie)."""
    return hmac.new(secret.encode("utf-8"), f"login:{nonce}".encode(), hashlib.sha256).hexdigest()


def set_login_cookie(response: Response, request: Request, nonce: str) -> None:
    """Give the browser the nonce its sign-in form is signed against."""
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")
