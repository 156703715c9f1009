"""The public unsubscribe page: GET asks, POST (the page's button or a mail provider's RFC 8058 one-click) acts.

No sign-in, no cookie and no CSRF token: the token in the address is the authority (192 random bits,
stored hashed, naming one address). GET changes nothing, so link scanners that fetch every URL in a
message unsubscribe nobody. POST suppresses at once and answers 200 with a short page, never a
redirect (RFC 8058). An unknown token gets the same 404 page whatever it is, and says nothing more.
The pages are in the customer's language and work without JavaScript.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ravingfans import __version__
from ravingfans.errors import NotFound
from ravingfans.i18n import best_language, translated_environment
from ravingfans.mail.unsubscribe import find_token, unsubscribe
from ravingfans.web.deps import BusinessDep, SessionDep, WriteSessionDep

router = APIRouter()

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "unsubscribe"


def _page(name: str, language: str | None, status: int = 200, **context: Any) -> HTMLResponse:
    code = best_language(language)
    html = translated_environment(str(TEMPLATES), code).get_template(name).render(
        language=code, asset_version=__version__, **context)
    return HTMLResponse(html, status_code=status, headers={"referrer-policy": "no-referrer",
                                                           "x-robots-tag": "noindex"})


def _invalid() -> HTMLResponse:
    return _page("invalid.html", None, status=404)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
def confirm(token: str, session: SessionDep, business: BusinessDep) -> HTMLResponse:
    """Ask whether to unsubscribe (a button that POSTs here); changes nothing."""
    found = find_token(session, token)
    if found is None:
        return _invalid()
    return _page("confirm.html", found.language, business_name=business.name, action=f"/unsubscribe/{token}",
                 used=found.used_at is not None)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
def one_click(token: str, session: WriteSessionDep, business: BusinessDep) -> HTMLResponse:
    """Unsubscribe now (RFC 8058 one-click, or the confirm page's button); 200 with a short page, no redirect."""
    try:
        done = unsubscribe(session, token, source="one-click unsubscribe")
    except NotFound:
        return _invalid()
    return _page("done.html", done.language, business_name=business.name)
