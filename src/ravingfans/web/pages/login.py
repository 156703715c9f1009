"""Sign in and sign out: the only pages open to everyone.

The sign-in form is protected from cross-site posts by a signed double-submit token (its cookie's
nonce, HMAC'd with the secret key); sign-out is a POST carrying the session's own CSRF token.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ravingfans.errors import PermissionDenied
from ravingfans.services import accounts
from ravingfans.services.sessions import close_session
from ravingfans.web.auth import (
    SESSION_COOKIE,
    SignedInOrNot,
    address_of,
    clear_session_cookie,
    login_csrf,
    login_nonce,
    session_policy,
    set_login_cookie,
    set_session_cookie,
)
from ravingfans.web.deps import SettingsDep, TemplatesDep, WriteSessionDep

router = APIRouter()

MAX_EMAIL = 254


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site only (never ``//host`` or ``https://…``)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 2000:
        return "/"
    return target


def _form(request: Request, templates: TemplatesDep, settings: SettingsDep, *, email: str = "", next_: str = "/",
          error: str | None = None, status: int = 200) -> HTMLResponse:
    nonce, fresh = login_nonce(request)
    response = templates.TemplateResponse(request, "login.html", {
        "email": email, "next": safe_next(next_), "error": error,
        "login_token": login_csrf(settings.secret_key.get_secret_value(), nonce),
    }, status_code=status)
    if fresh:
        set_login_cookie(response, request, nonce)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, templates: TemplatesDep, settings: SettingsDep, next: str = "/") -> HTMLResponse:
    """The sign-in form."""
    return _form(request, templates, settings, next_=next)


@router.post("/login")
def login(
    request: Request,
    session: WriteSessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    email: Annotated[str, Form(max_length=MAX_EMAIL)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password (throttled), start a fresh session and go where the user was heading."""
    nonce = request.cookies.get("rf_login", "")
    secret = settings.secret_key.get_secret_value()
    if not nonce or not csrf_token or not hmac.compare_digest(csrf_token.encode(), login_csrf(secret, nonce).encode()):
        raise PermissionDenied("The sign-in form has expired or did not come from this site.",
                               hint="Reload the sign-in page and try again.")
    opened = accounts.sign_in(session, email, password, address=address_of(request), secret=secret,
                              policy=session_policy(settings), replaces=request.cookies.get(SESSION_COOKIE))
    if opened is None:
        return _form(request, templates, settings, email=email[:MAX_EMAIL], next_=next, status=400,
                     error="That e-mail address and password do not match an active account.")
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, request, opened.token, settings.session_max_hours * 3600)
    return response


@router.post("/logout")
def logout(request: Request, session: WriteSessionDep, _user: SignedInOrNot) -> RedirectResponse:
    """End this browser's session (if it still has one) and show the sign-in form."""
    close_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response
