"""Customer pages: the list with search, sorting and segments, the profile with its value, and its forms.

Handlers only translate HTTP to service calls and back: reads on GET, writes on POST through a
service function, then a 303 redirect so a reload never posts twice.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ravingfans.db.models import CHANNELS, KINDS, RATINGS, ScoreRun
from ravingfans.services import customers, scoring
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep, WriteSessionDep
from ravingfans.web.pages.scores import segment_choices, unscored_reason

router = APIRouter()

SAVED_MESSAGES = {"note": "Note added.", "moment": "Moment of truth logged."}
SORT_LABELS = {"name": "Name", "last_purchase": "Last purchase", "total_spend": "Total spend", "clv": "Value"}
# Which way a column sorts first when clicked: names A-Z, money and recency biggest first.
FIRST_DIRECTION = {"name": "asc", "last_purchase": "desc", "total_spend": "desc", "clv": "desc"}


def list_url(query: str = "", sort: str = "name", direction: str = "asc", page: int = 1,
             per_page: int = customers.DEFAULT_PER_PAGE, segment: str = "") -> str:
    """The customer-list address for these settings, leaving defaults out."""
    params: dict[str, Any] = {}
    if query:
        params["q"] = query
    if segment:
        params["segment"] = segment
    if sort != "name":
        params["sort"] = sort
    if direction != "asc":
        params["dir"] = direction
    if page != 1:
        params["page"] = page
    if per_page != customers.DEFAULT_PER_PAGE:
        params["per_page"] = per_page
    return "/customers" + ("?" + urlencode(params) if params else "")


def profile_url(customer_id: int) -> str:
    """The address of a customer's profile."""
    return f"/customers/{customer_id}"


@router.get("/customers", response_class=HTMLResponse)
def customer_list(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    q: str = "",
    sort: str = "name",
    direction: Annotated[str, Query(alias="dir")] = "asc",
    page: int = 1,
    per_page: int = customers.DEFAULT_PER_PAGE,
    segment: str = "",
) -> HTMLResponse:
    """All customers, a page at a time, filtered by the search box and segment and sorted by a column."""
    result = customers.list_customers(session, query=q, sort=sort, direction=direction, page=page,
                                      per_page=per_page, region=settings.default_region, segment=segment)

    def sort_url(key: str) -> str:
        if key == result.sort:
            flipped = "desc" if result.direction == "asc" else "asc"
            return list_url(result.query, key, flipped, 1, result.per_page, result.segment)
        return list_url(result.query, key, FIRST_DIRECTION[key], 1, result.per_page, result.segment)

    def page_url(number: int) -> str:
        return list_url(result.query, result.sort, result.direction, number, result.per_page, result.segment)

    return templates.TemplateResponse(request, "customers/list.html", {
        "result": result,
        "query": result.query,
        "sort_labels": SORT_LABELS,
        "sort_url": sort_url,
        "page_url": page_url,
        "profile_url": profile_url,
        "segments": segment_choices(session, result.run_id, result.segment),
        "clear_segment_url": list_url(result.query, result.sort, result.direction, 1, result.per_page),
    })


@router.get("/customers/{customer_id:int}", response_class=HTMLResponse)
def customer_profile(
    request: Request,
    customer_id: int,
    session: SessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    saved: str = "",
) -> HTMLResponse:
    """One customer's profile: who they are, their value, what they like and bought, every moment and note."""
    profile = customers.get_profile(session, customer_id)
    employees = customers.list_employees(session)
    value = scoring.customer_value(session, customer_id, settings)
    newest = scoring.latest_run(session)
    run = session.get(ScoreRun, value.run_id) if value is not None else None  # loaded already
    return templates.TemplateResponse(request, "customers/profile.html", {
        "profile": profile,
        "c": profile.customer,
        "value": value,
        "value_run": run,
        "newest_run": newest,
        "unscored": unscored_reason(profile, newest, settings) if value is None else None,
        "employees": employees,
        "channels": CHANNELS,
        "kinds": KINDS,
        "ratings": tuple(RATINGS),
        "saved_message": SAVED_MESSAGES.get(saved),
        "profile_url": profile_url,
        "max_note": customers.MAX_NOTE_LENGTH,
        "max_author": customers.MAX_AUTHOR_LENGTH,
    })


@router.post("/customers/{customer_id:int}/notes")
def add_note(
    customer_id: int,
    session: WriteSessionDep,
    body: Annotated[str, Form()] = "",
    author: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Add a note, then show the profile again."""
    note = customers.parse_note({"body": body, "author": author})
    customers.add_note(session, customer_id, note)
    return RedirectResponse(f"{profile_url(customer_id)}?saved=note#notes", status_code=303)


@router.post("/customers/{customer_id:int}/interactions")
def log_interaction(
    customer_id: int,
    session: WriteSessionDep,
    settings: SettingsDep,
    channel: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    rating: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    employee_id: Annotated[str, Form()] = "",
    occurred_at: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Log a moment of truth (times typed are in the business's zone), then show the profile again."""
    moment = customers.parse_interaction(
        {"channel": channel, "kind": kind, "rating": rating, "note": note, "employee_id": employee_id,
         "occurred_at": occurred_at},
        zone=settings.zone,
    )
    customers.log_interaction(session, customer_id, moment)
    return RedirectResponse(f"{profile_url(customer_id)}?saved=moment#moments", status_code=303)
