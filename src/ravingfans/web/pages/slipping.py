"""Slipping fans page: the current run's slipping fans by value at risk, with one-click call and note forms.

Reading on GET; each row's forms POST to a service call (:func:`~ravingfans.services.customers.log_interaction`
or :func:`~ravingfans.services.customers.add_note`) and 303 back to the list at that row, so staff
work down the list without leaving it. Bad input shows the list again with the message at the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from ravingfans.db.models import RATINGS
from ravingfans.errors import ValidationFailed
from ravingfans.services import customers, moments
from ravingfans.services.insights import slipping
from ravingfans.services.listening import silence_flags
from ravingfans.services.runs import latest_run
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep, WriteSessionDep

router = APIRouter()

LIMITS = (25, 50, 100)
DEFAULT_LIMIT = 50
SAVED = {"call": "Call logged", "note": "Note added"}


@dataclass(frozen=True)
class RowError:
    """A form on one row that was refused: which row and form, why, and what was typed (to show it again)."""

    customer_id: int
    action: str  # "call" or "note"
    message: str
    text: str
    rating: str


def slipping_url(limit: int = DEFAULT_LIMIT, saved: str = "", who: int | None = None) -> str:
    """The page's address for these settings (defaults left out), at the row of ``who`` if given."""
    params: dict[str, Any] = {}
    if limit != DEFAULT_LIMIT:
        params["limit"] = limit
    if saved:
        params["saved"] = saved
    if who is not None:
        params["who"] = who
    return "/slipping" + ("?" + urlencode(params) if params else "") + (f"#fan-{who}" if who is not None else "")


def _check_limit(limit: int) -> int:
    if limit not in LIMITS:
        raise ValidationFailed(f"Show: must be one of {', '.join(map(str, LIMITS))}", field="limit")
    return limit


def _form_limit(value: str) -> int:
    """The list size a form carries back; anything odd falls back to the default (it only sets the view)."""
    return int(value) if value.isdigit() and int(value) in LIMITS else DEFAULT_LIMIT


def _page(request: Request, session: Session, templates: Jinja2Templates, limit: int, *,
          saved: str = "", who: int | None = None, error: RowError | None = None,
          status_code: int = 200) -> HTMLResponse:
    run = latest_run(session)
    rows = slipping(session, run_id=run.id, limit=limit)[1] if run is not None else []
    names = {row.customer_id: row.name for row in rows}
    message = None
    if saved in SAVED:
        name = names.get(who) if who is not None else None
        message = f"{SAVED[saved]} for {name}." if name else f"{SAVED[saved]}."
    return templates.TemplateResponse(request, "slipping.html", {
        "run": run,
        "rows": rows,
        "silence": silence_flags(session, [row.customer_id for row in rows]),
        "limit": limit,
        "limits": LIMITS,
        "saved_message": message,
        "who": who,
        "error": error,
        "error_name": names.get(error.customer_id) if error else None,
        "ratings": tuple(RATINGS),
        "max_note": customers.MAX_NOTE_LENGTH,
        "max_call_note": moments.MAX_CALL_NOTE,
        "slipping_url": slipping_url,
    }, status_code=status_code)


@router.get("/slipping", response_class=HTMLResponse)
def slipping_page(
    request: Request,
    session: SessionDep,
    templates: TemplatesDep,
    limit: int = DEFAULT_LIMIT,
    saved: str = "",
    who: int | None = None,
) -> HTMLResponse:
    """The current run's slipping fans, most value at risk first, each with its reason and quick actions."""
    return _page(request, session, templates, _check_limit(limit), saved=saved, who=who)


@router.post("/slipping/{customer_id:int}/call", response_model=None)
def log_call(
    request: Request,
    customer_id: int,
    session: WriteSessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    rating: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    limit: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """Log a courtesy call by phone (rated only if a rating was picked), then back to the row."""
    shown = _form_limit(limit)
    try:
        customers.log_interaction(session, customer_id, moments.parse_call(rating, note, zone=settings.zone))
    except ValidationFailed as exc:
        error = RowError(customer_id, "call", exc.message, note, rating)
        return _page(request, session, templates, shown, error=error, who=customer_id, status_code=422)
    return RedirectResponse(slipping_url(shown, "call", customer_id), status_code=303)


@router.post("/slipping/{customer_id:int}/note", response_model=None)
def add_note(
    request: Request,
    customer_id: int,
    session: WriteSessionDep,
    templates: TemplatesDep,
    body: Annotated[str, Form()] = "",
    limit: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """Add a note to the customer, then back to the row."""
    shown = _form_limit(limit)
    try:
        customers.add_note(session, customer_id, moments.parse_list_note(body))
    except ValidationFailed as exc:
        error = RowError(customer_id, "note", exc.message, body, "")
        return _page(request, session, templates, shown, error=error, who=customer_id, status_code=422)
    return RedirectResponse(slipping_url(shown, "note", customer_id), status_code=303)
