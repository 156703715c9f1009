"""The public survey page: ``/s/{token}``, opened from a personal link, no sign-in, in the customer's language.

The token in the address is the only authority: it names one invitation and so one customer, and
nothing on these pages takes a customer or survey id. That also makes the form safe from cross-site
posts without a cookie: a forged form would have to know the token; and posts a browser marks as
cross-site (Fetch Metadata or Origin) are refused anyway, here and in the security middleware. A plain
HTML form (no script, no inline style) that works with JavaScript off; mobile-first CSS in
``/static/survey.css``. Unknown, expired and erased links get one and the same 404 page, so a page
never tells whether a token ever existed. Rate limits: :mod:`ravingfans.services.survey_throttle`
(429 with ``Retry-After``). Nothing about the customer or the token is logged.

Pages are drawn from ``templates/public_survey/`` with an environment per language (gettext from
``locale/<lang>/LC_MESSAGES/*.po``), not the staff layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ravingfans import __version__
from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.errors import NotFound
from ravingfans.i18n import DEFAULT_LANGUAGE, best_language, translated_environment
from ravingfans.services import survey_throttle
from ravingfans.services.surveys import (
    AnswerProblems,
    PublicSurvey,
    QuestionView,
    SurveyClosed,
    submit_answers,
    survey_page,
)
from ravingfans.web.auth import address_of
from ravingfans.web.security import is_cross_site
from ravingfans.web.templating import TEMPLATES_DIR

router = APIRouter(include_in_schema=False)

MAX_FIELDS = 300
MAX_PART = 16 * 1024
NOINDEX = {"x-robots-tag": "noindex, nofollow", "referrer-policy": "no-referrer"}


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _database(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _business_name(request: Request) -> str:
    from ravingfans.web.templating import page_settings

    return page_settings(request, _settings(request)).business_name


def _page(request: Request, template: str, language: str, status: int = 200,
          headers: Mapping[str, str] | None = None, **values: Any) -> HTMLResponse:
    html = translated_environment(str(TEMPLATES_DIR), language).get_template(f"public_survey/{template}").render(
        language=language, business_name=_business_name(request), asset_version=__version__, **values)
    return HTMLResponse(html, status_code=status, headers={**NOINDEX, **(headers or {})})


def _browser_language(request: Request) -> str:
    """The visitor's first language from Accept-Language (for pages drawn before a customer is known)."""
    header = request.headers.get("accept-language", "")[:200]
    first = header.split(",")[0].split(";")[0].strip()
    return best_language(first) if first and first != "*" else DEFAULT_LANGUAGE


def _invalid(request: Request, language: str | None = None) -> HTMLResponse:
    """Unknown, expired or erased: one page for all (counted; 429 once an address tries too many)."""
    with _database(request).session(write=True) as session:
        wait = survey_throttle.refused_link(session, address_of(request),
                                            _settings(request).secret_key.get_secret_value())
    if wait is not None:
        return _too_many(request, language or _browser_language(request), wait)
    return _page(request, "message.html", language or _browser_language(request), status=404, kind="invalid")


def _too_many(request: Request, language: str, wait: int) -> HTMLResponse:
    return _page(request, "message.html", language, status=429, headers={"retry-after": str(wait)},
                 kind="throttled", minutes=max(1, (wait + 59) // 60))


def _stored_values(questions: tuple[QuestionView, ...], previous: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers as the form's fields hold them (strings; a ranking as {choice index: place})."""
    values: dict[str, Any] = {}
    for q in questions:
        value = previous.get(q.field)
        if value is None:
            continue
        if q.kind == "rank" and isinstance(value, list):
            values[q.field] = {q.options.index(v): str(n) for n, v in enumerate(value, start=1) if v in q.options}
        elif q.kind == "yesno":
            values[q.field] = "yes" if value else "no"
        else:
            values[q.field] = str(value)
    return values


def _submitted_values(questions: tuple[QuestionView, ...], data: Mapping[str, Any]) -> dict[str, Any]:
    """What the customer just sent, to show again next to the problems (single strings only)."""
    values: dict[str, Any] = {}
    for q in questions:
        if q.kind == "rank":
            places = {i: data.get(f"{q.field}.{i}") for i in range(len(q.options))}
            values[q.field] = {i: p for i, p in places.items() if isinstance(p, str)}
        elif isinstance(data.get(q.field), str):
            values[q.field] = data[q.field]
    return values


def _form_page(request: Request, token: str, page: PublicSurvey, values: Mapping[str, Any],
               problems: Mapping[str, str] | None = None, status: int = 200) -> HTMLResponse:
    return _page(request, "form.html", page.language, status=status, token=token, survey=page, values=values,
                 problems=problems or {})


@router.get("/s/{token}", response_class=HTMLResponse)
def survey_form(request: Request, token: str) -> HTMLResponse:
    """The customer's survey, prefilled with their last answers; or why the link does not work."""
    with _database(request).session() as session:
        page = survey_page(session, token)
    if page.state == "invalid":
        return _invalid(request)
    if page.state == "closed":
        return _page(request, "message.html", page.language, status=410, kind="closed", title=page.title)
    return _form_page(request, token, page, _stored_values(page.questions, page.previous))


def _form_data(form: FormData) -> dict[str, Any]:
    """Form fields as a dict: one value a string, repeated fields a list (refused later where one is expected)."""
    data: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue  # a file where text belongs: ignored, so the question reads as unanswered
        if key in data:
            data[key] = (data[key] if isinstance(data[key], list) else [data[key]]) + [value]
        else:
            data[key] = value
    return data


def _submit(request: Request, token: str, data: dict[str, Any]) -> Response:
    database = _database(request)
    with database.session() as session:
        page = survey_page(session, token)
    if page.state == "invalid":
        return _invalid(request)
    if page.state == "closed":
        return _page(request, "message.html", page.language, status=410, kind="closed", title=page.title)
    with database.session(write=True) as session:
        wait = survey_throttle.answer_attempt(session, token, address_of(request),
                                              _settings(request).secret_key.get_secret_value())
    if wait is not None:
        return _too_many(request, page.language, wait)
    try:
        with database.session(write=True) as session:
            submit_answers(session, token, data)
    except AnswerProblems as exc:  # the form again, with each problem next to its question
        return _form_page(request, token, page, _submitted_values(page.questions, data), exc.problems, status=422)
    except SurveyClosed:  # closed between reading the page and storing the answer
        return _page(request, "message.html", page.language, status=410, kind="closed", title=page.title)
    except NotFound:  # expired between reading the page and storing the answer
        return _page(request, "message.html", page.language, status=404, kind="invalid")
    return RedirectResponse(f"/s/{token}/thanks", status_code=303, headers=NOINDEX)


@router.post("/s/{token}")
async def survey_submit(request: Request, token: str) -> Response:
    """Store the customer's answers (replacing earlier ones), then the thank-you page (303)."""
    if is_cross_site(request.headers):
        return _page(request, "message.html", _browser_language(request), status=403, kind="cross_site")
    try:
        form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_PART)
    except (HTTPException, MultiPartException):  # malformed, too many fields, a file: a kind answer, no traceback
        return _page(request, "message.html", _browser_language(request), status=400, kind="bad_form")
    data = _form_data(form)
    return await run_in_threadpool(_submit, request, token, data)


@router.get("/s/{token}/thanks", response_class=HTMLResponse)
def survey_thanks(request: Request, token: str) -> HTMLResponse:
    """Thank you, with a way back to change the answer while the survey is open."""
    with _database(request).session() as session:
        page = survey_page(session, token)
    if page.state == "invalid":
        return _invalid(request)
    return _page(request, "thanks.html", page.language, token=token, survey=page)
