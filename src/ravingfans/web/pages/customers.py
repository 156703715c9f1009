"""Customer pages: the list with search, sorting and segments, the profile with its value, and its forms.

Handlers only translate HTTP to service calls and back: reads on GET, writes on POST through a
service function, then a 303 redirect so a reload never posts twice. Staff add notes and log
moments of truth; managers also correct notes and edit a customer's details; owners erase a customer
(a confirm page first, then a POST with the customer's number typed).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from ravingfans.clock import utcnow
from ravingfans.db.models import CHANNELS, KINDS, RATINGS
from ravingfans.errors import ValidationFailed
from ravingfans.services import customer_records, customers, erasure, moments, profile_form, relationship, scoring
from ravingfans.services.common import get_customer
from ravingfans.services.runs import require_run
from ravingfans.web.auth import ManagerUser, OwnerUser
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep, WriteSessionDep
from ravingfans.web.pages.scores import segment_choices, unscored_reason
from ravingfans.web.pages.surveys import profile_context as survey_context
from ravingfans.web.pages.tasks import task_context
from ravingfans.web.pages.stock import stock_context
from ravingfans.web.pages.word_of_mouth import profile_context as word_of_mouth_context

router = APIRouter()

SAVED_MESSAGES = {"note": "Note added.", "moment": "Moment of truth logged.", "note_edited": "Note changed.",
                  "details": "Details saved.", "survey": "Survey answer saved."}
LIST_MESSAGES = {"erased": "Customer erased: their personal data is gone; their orders still count in the figures."}
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
    saved: str = "",
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
        "saved_message": LIST_MESSAGES.get(saved),
    })


@router.get("/customers/{customer_id:int}", response_class=HTMLResponse)
def customer_profile(
    request: Request,
    customer_id: int,
    session: SessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    saved: str = "",
    outcome: str = "",
) -> HTMLResponse:
    """One customer's profile: who they are, family and occasions, value, purchases, moments, notes, what next."""
    # Held for the whole request: the session keeps loaded rows only while something refers to them, and each
    # section below looks the customer up again (one query each, a fifth of the page's statements, otherwise).
    held = get_customer(session, customer_id)  # noqa: F841
    # everyone, once: the active for the form, every name for who served the orders and moments shown
    staff = customers.list_employees(session, active_only=False)
    profile = customers.get_profile(session, customer_id, staff_names={e.id: e.name for e in staff})
    employees = [e for e in staff if e.active]
    value = scoring.customer_value(session, customer_id, settings)
    newest = scoring.latest_run(session)
    run = require_run(session, value.run_id) if value is not None else None  # in the session already: no query
    now = utcnow()
    today = now.astimezone(settings.zone).date()
    family = relationship.family_and_occasions(profile.customer.birthday, profile.customer.personal_details, today)
    current = value.scores if value is not None and newest is not None and value.run_id == newest.id else None
    links = relationship.referrals(session, profile.customer.id, profile.customer.referred_by)
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
        "quick_channel": moments.QUICK_CHANNEL,
        "quick_kind": moments.QUICK_KIND,
        "ratings": tuple(RATINGS),
        "saved_message": SAVED_MESSAGES.get(saved),
        "profile_url": profile_url,
        "max_note": customers.MAX_NOTE_LENGTH,
        "max_author": customers.MAX_AUTHOR_LENGTH,
        "family": family,
        **word_of_mouth_context(session, profile.customer.id, settings, links, run=newest),
        **stock_context(session, profile.customer.id, settings),
        "referrals": links,
        "steps": relationship.next_steps(profile, family.occasions, current, now=now, today=today),
        **task_context(session, profile.customer.id, today),
        **survey_context(session, profile.customer.id, outcome=outcome if saved == "invited" else ""),
    })


@router.post("/customers/{customer_id:int}/notes")
def add_note(
    customer_id: int,
    session: WriteSessionDep,
    body: Annotated[str, Form()] = "",
    author: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Add a note, then show the profile again."""
    note = moments.parse_note({"body": body, "author": author})
    moments.add_note(session, customer_id, note)
    return RedirectResponse(f"{profile_url(customer_id)}?saved=note#notes", status_code=303)


@router.post("/customers/{customer_id:int}/notes/{note_id:int}")
def edit_note(
    customer_id: int,
    note_id: int,
    _manager: ManagerUser,
    session: WriteSessionDep,
    body: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Correct a note's text (managers), then show it on the profile again."""
    moments.edit_note(session, customer_id, note_id, moments.parse_note_edit({"body": body}))
    return RedirectResponse(f"{profile_url(customer_id)}?saved=note_edited#note-{note_id}", status_code=303)


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
    """Log a moment of truth (blank channel or kind: the one-click defaults; times typed are in the business's zone)."""
    moment = moments.parse_quick_interaction(
        {"channel": channel, "kind": kind, "rating": rating, "note": note, "employee_id": employee_id,
         "occurred_at": occurred_at},
        zone=settings.zone,
    )
    moments.log_interaction(session, customer_id, moment)
    return RedirectResponse(f"{profile_url(customer_id)}?saved=moment#moments", status_code=303)


def _edit_page(request: Request, session: Session, templates: Jinja2Templates, customer_id: int,
               values: dict[str, str] | None = None, version: str | None = None,
               error: ValidationFailed | None = None) -> HTMLResponse:
    record = customer_records.get_customer_record(session, customer_id)
    form = profile_form.profile_form(record)
    return templates.TemplateResponse(request, "customers/edit.html", {
        "record": record,
        "values": values if values is not None else form.values,
        "version": version if version is not None else form.version,
        "error": error,
        "profile_url": profile_url,
    }, status_code=422 if error else 200)


@router.get("/customers/{customer_id:int}/edit", response_class=HTMLResponse)
def edit_details_form(request: Request, customer_id: int, _manager: ManagerUser, session: SessionDep,
                      templates: TemplatesDep) -> HTMLResponse:
    """The form to change a customer's contact and personal details (managers)."""
    return _edit_page(request, session, templates, customer_id)


class DetailsForm(BaseModel):
    """The edit form's fields as sent (text; the service parses them)."""

    model_config = ConfigDict(extra="ignore")

    version: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    address_line1: str = ""
    address_line2: str = ""
    postal_code: str = ""
    city: str = ""
    region: str = ""
    country: str = ""
    birthday: str = ""
    language: str = ""
    personal_details: str = ""
    likes: str = ""
    dislikes: str = ""
    sizes: str = ""
    customer_note: str = ""
    referred_by_id: str = ""


@router.post("/customers/{customer_id:int}/edit", response_model=None)
def edit_details(
    request: Request,
    customer_id: int,
    _manager: ManagerUser,
    session: WriteSessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    form: Annotated[DetailsForm, Form()],
) -> HTMLResponse | RedirectResponse:
    """Save a customer's changed details (managers), then show the profile; the form again if something is wrong."""
    values = form.model_dump()
    try:
        profile_form.edit_customer(session, customer_id, values, version=form.version, region=settings.default_region)
    except ValidationFailed as exc:
        return _edit_page(request, session, templates, customer_id, values, form.version, exc)
    return RedirectResponse(f"{profile_url(customer_id)}?saved=details#details", status_code=303)


@router.get("/customers/{customer_id:int}/erase", response_class=HTMLResponse)
def erase_form(request: Request, customer_id: int, _owner: OwnerUser, session: SessionDep,
               templates: TemplatesDep) -> HTMLResponse:
    """What erasing this customer removes and keeps, and the form to confirm it (owners)."""
    return templates.TemplateResponse(request, "customers/erase.html", {
        "plan": erasure.preview_erasure(session, customer_id),
        "profile_url": profile_url,
    })


@router.post("/customers/{customer_id:int}/erase")
def erase(
    customer_id: int,
    owner: OwnerUser,
    session: WriteSessionDep,
    settings: SettingsDep,
    confirm: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Erase the customer once their number is typed (owners), then show the customer list."""
    erasure.check_confirmation(customer_id, confirm)
    erasure.erase_customer(session, customer_id, by_user_id=owner.user_id,
                           secret=settings.secret_key.get_secret_value())
    return RedirectResponse("/customers?saved=erased", status_code=303)
