"""Survey pages for staff: the list, building a survey, opening and closing it, sending it, and the results.

Reads on GET (the results page only reads what the last analysis stored); writes on POST through a
service, then a 303. Managers build, open, close, send and analyse; every signed-in user reads the list,
a survey and the results, and enters an answer a customer gave in store or by phone from their profile.
Sending is two steps: a POST to ``/send/preview`` counts who would be asked and why others would not
(a dry run, nothing changes), and the page's confirm button POSTs the same audience to ``/send``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from ravingfans.db.models import Employee
from ravingfans.db.models.surveys import QUESTION_KINDS, Survey, SurveyQuestion
from ravingfans.errors import ValidationFailed
from ravingfans.services import listening, survey_audiences, surveys
from ravingfans.services.runs import latest_run
from ravingfans.web import charts
from ravingfans.web.auth import ManagerUser, StaffUser
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep, WriteSessionDep

router = APIRouter()

BUILD_ROWS = 8  # question rows on the build form
KIND_LABELS = {"nps": "0–10: how likely to recommend (NPS)", "csat": "1–5 satisfaction", "text": "Open text",
               "rank": "Pick and rank (choices below)", "yesno": "Yes or no"}
AUDIENCE_LABELS = {"slipping": "Slipping fans", "fans": "Current fans", "segment": "A segment",
                   "recent_buyers": "Recent buyers, some days after a purchase"}
REASON_LABELS = {"sent": "Would be asked", "no_email": "No usable e-mail address", "no_consent": "No e-mail consent",
                 "already_invited": "Already asked this survey", "asked_recently": "Asked another survey recently",
                 "suppressed": "On the do-not-mail list", "not_found": "Unknown or erased"}
SAVED = {"created": "Survey created (a draft): open it to take answers.", "opened": "Survey opened.",
         "closed": "Survey closed: its links now say so.", "analysed": "Answers analysed."}
ANSWER_CHANNELS = ("store", "phone")
MAX_OPEN_FORMS = 5
INVITE_OUTCOMES = {"sent": "Survey e-mail queued: it goes out with the next `ravingfans outbox send`.",
                   "no_email": "Not asked: there is no usable e-mail address on the record.",
                   "no_consent": "Not asked: they have not agreed to e-mail. Offer a personal link instead.",
                   "already_invited": "Not asked again: they were already invited to this survey.",
                   "asked_recently": "Not asked: they answered or were asked another survey recently.",
                   "suppressed": "Not asked: the address unsubscribed or bounced.",
                   "not_found": "Not asked: the customer was not found."}


async def form_fields(request: Request) -> dict[str, Any]:
    """The posted form as a plain dict (a list where a field repeats); files are ignored."""
    form = await request.form()
    out: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        out[key] = values[0] if len(values) == 1 else values
    return out


FormFields = Annotated[dict[str, Any], Depends(form_fields)]


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key, "")
    return value if isinstance(value, str) else ""


def _day(value: str, label: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{label}: {value[:20]!r} is not a date; use YYYY-MM-DD.", field=field) from None


def _whole(value: str, label: str, field: str, default: int | None = None) -> int | None:
    value = value.strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 6:
        raise ValidationFailed(f"{label}: write a whole number.", field=field)
    return int(value)


# --- list, build, open/close ------------------------------------------------------------------------------------


@router.get("/surveys", response_class=HTMLResponse)
def survey_list(request: Request, session: SessionDep, templates: TemplatesDep, saved: str = "") -> HTMLResponse:
    """Every survey with its state and how many were asked and answered."""
    return templates.TemplateResponse(request, "surveys/list.html", {
        "lines": listening.survey_lines(session), "saved_message": SAVED.get(saved)})


def _build_page(request: Request, templates: Jinja2Templates, values: Mapping[str, Any] | None = None,
                error: ValidationFailed | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "surveys/new.html", {
        "values": values or {}, "rows": range(1, BUILD_ROWS + 1), "kinds": QUESTION_KINDS, "kind_labels": KIND_LABELS,
        "error": error, "max_name": surveys.MAX_NAME, "max_title": surveys.MAX_TITLE,
        "max_prompt": surveys.MAX_PROMPT}, status_code=422 if error else 200)


@router.get("/surveys/new", response_class=HTMLResponse)
def new_survey_form(request: Request, _manager: ManagerUser, templates: TemplatesDep) -> HTMLResponse:
    """The form to build a survey (managers): a name, a title and up to eight questions."""
    return _build_page(request, templates, {"q1_kind": "nps", "q1_prompt": "How are we doing?", "q1_required": "yes",
                                            "q2_kind": "text", "q2_prompt": "How can we do better?"})


@router.post("/surveys", response_model=None)
def create_survey(request: Request, _manager: ManagerUser, session: WriteSessionDep, templates: TemplatesDep,
                  form: FormFields) -> HTMLResponse | RedirectResponse:
    """Create the survey as a draft (managers), then show it; the form again, with the problem, if refused."""
    specs = []
    for n in range(1, BUILD_ROWS + 1):
        kind, prompt = _text(form, f"q{n}_kind").strip(), _text(form, f"q{n}_prompt")
        if not kind and not prompt.strip():
            continue
        specs.append({"kind": kind, "prompt": prompt, "required": _text(form, f"q{n}_required") == "yes",
                      "options": _text(form, f"q{n}_options")})
    try:
        info = surveys.create_survey(session, name=_text(form, "name"), title=_text(form, "title"), questions=specs)
    except ValidationFailed as exc:
        return _build_page(request, templates, form, exc)
    return RedirectResponse(f"/surveys/{info.id}?saved=created", status_code=303)


def _survey(session: Session, survey_id: int) -> Survey:
    return surveys.load_survey(session, survey_id)


def _segments(session: Session) -> list[str]:
    run = latest_run(session)
    return sorted((run.segments or {}).keys()) if run is not None else []


def _detail_page(request: Request, session: Session, templates: Jinja2Templates, survey_id: int, *,
                 saved: str = "", sent: int | None = None, form: Mapping[str, Any] | None = None,
                 error: ValidationFailed | None = None, preview: Any = None) -> HTMLResponse:
    info = surveys.get_survey(session, survey_id)
    message = SAVED.get(saved)
    if saved == "sent" and sent is not None:
        message = f"Survey sent to {sent} customers; the e-mails go out with the next `ravingfans outbox send`."
    return templates.TemplateResponse(request, "surveys/detail.html", {
        "survey": info, "saved_message": message, "kind_labels": KIND_LABELS, "audiences": AUDIENCE_LABELS,
        "segments": _segments(session), "form": form or {"audience": "slipping", "days": "7", "window_days": "1"},
        "error": error, "preview": preview, "reason_labels": REASON_LABELS,
    }, status_code=422 if error else 200)


@router.get("/surveys/{survey_id:int}", response_class=HTMLResponse)
def survey_detail(request: Request, survey_id: int, session: SessionDep, templates: TemplatesDep, saved: str = "",
                  sent: int | None = None) -> HTMLResponse:
    """One survey: its questions, counts, and (managers) open, close and send."""
    return _detail_page(request, session, templates, survey_id, saved=saved, sent=sent)


@router.post("/surveys/{survey_id:int}/open")
def open_survey(survey_id: int, _manager: ManagerUser, session: WriteSessionDep) -> RedirectResponse:
    """Let the survey take answers (managers)."""
    surveys.open_survey(session, survey_id)
    return RedirectResponse(f"/surveys/{survey_id}?saved=opened", status_code=303)


@router.post("/surveys/{survey_id:int}/close")
def close_survey(survey_id: int, _manager: ManagerUser, session: WriteSessionDep) -> RedirectResponse:
    """Stop the survey taking answers (managers)."""
    surveys.close_survey(session, survey_id)
    return RedirectResponse(f"/surveys/{survey_id}?saved=closed", status_code=303)


# --- sending: preview, then confirm -----------------------------------------------------------------------------


def audience_from(form: Mapping[str, Any]) -> survey_audiences.Audience:
    """The audience a send form names; ValidationFailed naming the field otherwise."""
    kind = _text(form, "audience")
    Audience = survey_audiences.Audience
    if kind == "slipping":
        return Audience.slipping()
    if kind == "fans":
        return Audience.fans()
    if kind == "segment":
        name = _text(form, "segment").strip()
        if not name:
            raise ValidationFailed("Segment: choose one.", field="segment")
        return Audience.segment_of(name)
    if kind == "recent_buyers":
        days = _whole(_text(form, "days"), "Days after a purchase", "days")
        if days is None:
            raise ValidationFailed("Days after a purchase: write a whole number.", field="days")
        window = _whole(_text(form, "window_days"), "Window", "window_days", 1)
        return Audience.recent_buyers(days, window or 1)
    raise ValidationFailed(f"Audience: choose one of {', '.join(AUDIENCE_LABELS.values())}.", field="audience")


@router.post("/surveys/{survey_id:int}/send/preview", response_model=None)
def send_preview(request: Request, survey_id: int, _manager: ManagerUser, session: SessionDep, settings: SettingsDep,
                 templates: TemplatesDep, form: FormFields) -> HTMLResponse:
    """Count who would be asked and why the others would not (a dry run: nothing is sent or written)."""
    try:
        report = survey_audiences.send_survey(session, survey_id, audience_from(form), settings=settings,
                                              dry_run=True)
    except ValidationFailed as exc:
        return _detail_page(request, session, templates, survey_id, form=form, error=exc)
    return _detail_page(request, session, templates, survey_id, form=form, preview=report)


@router.post("/surveys/{survey_id:int}/send")
def send(survey_id: int, manager: ManagerUser, session: WriteSessionDep, settings: SettingsDep,
         form: FormFields) -> RedirectResponse:
    """Send the survey to the audience previewed (managers); the e-mails are queued in the outbox."""
    if _text(form, "confirm") != "yes":
        raise ValidationFailed("Send: preview the audience first, then confirm.", field="confirm")
    report = survey_audiences.send_survey(session, survey_id, audience_from(form), settings=settings,
                                          sent_by_user_id=manager.user_id)
    return RedirectResponse(f"/surveys/{survey_id}?saved=sent&sent={report.sent}", status_code=303)


# --- results ----------------------------------------------------------------------------------------------------


def results_url(survey_id: int | None = None, since: date | None = None, until: date | None = None,
                saved: str = "") -> str:
    """The results page's address for these filters (blank ones left out)."""
    params: dict[str, Any] = {}
    if survey_id is not None:
        params["survey"] = survey_id
    if since is not None:
        params["since"] = since.isoformat()
    if until is not None:
        params["until"] = until.isoformat()
    if saved:
        params["saved"] = saved
    return "/surveys/results" + ("?" + urlencode(params) if params else "")


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.0f}"


@router.get("/surveys/results", response_class=HTMLResponse)
def results_page(request: Request, session: SessionDep, settings: SettingsDep, templates: TemplatesDep,
                 survey: str = "", since: str = "", until: str = "", saved: str = "") -> HTMLResponse:
    """NPS and its trend, by segment and employee; response rates; themes, gaps, requests and silent fans."""
    survey_id = _whole(survey, "Survey", "survey")
    first, last = _day(since, "Since", "since"), _day(until, "Until", "until")
    found = listening.survey_results(session, settings, survey_id=survey_id, since=first, until=last)
    chart = None
    if found.trend:
        chart = charts.column_chart(
            [(p.label, p.nps or 0.0) for p in found.trend], chart_id="nps-trend-chart",
            title="NPS by month", fmt=_signed,
            describe="Net Promoter Score of the answers given each month, from -100 to 100; "
                     "the table below gives each month's answers and 95% interval.")
    return templates.TemplateResponse(request, "surveys/results.html", {
        "r": found, "chart": chart, "surveys": listening.survey_lines(session), "survey_id": survey_id,
        "since": first, "until": last, "saved_message": SAVED.get(saved), "results_url": results_url,
        "signed": _signed})


@router.post("/surveys/analyse")
def analyse(_manager: ManagerUser, session: WriteSessionDep, settings: SettingsDep,
            form: FormFields) -> RedirectResponse:
    """Read every open answer again and store the themes and readings (managers), then show the results."""
    listening.analyse_answers(session, settings, method="lexicon")
    back = _text(form, "back")
    safe = back.startswith("/surveys/results") and "//" not in back and "\\" not in back
    target = back if safe else "/surveys/results"
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}saved=analysed", status_code=303)


# --- the customer's profile -------------------------------------------------------------------------------------


def _shown(question: SurveyQuestion | surveys.QuestionView, value: Any) -> str:
    if value is None:
        return "—"
    if question.kind == "nps":
        return f"{value}/10"
    if question.kind == "csat":
        return f"{value}/5"
    if question.kind == "yesno":
        return "yes" if value else "no"
    if question.kind == "rank" and isinstance(value, list):
        return ", ".join(f"{n}. {v}" for n, v in enumerate(value, start=1))
    return str(value)


def profile_context(session: Session, customer_id: int, *, outcome: str = "") -> dict[str, Any]:
    """What the profile's Surveys section shows: what they were asked and answered, silences, and the entry forms."""
    asked = surveys.survey_for_customer(session, customer_id)
    open_surveys = surveys.newest_open_surveys(session, MAX_OPEN_FORMS)
    wanted = {row.survey_id for row in asked if row.answers} - {s.id for s in open_surveys}
    questions = {q.id: q for s in open_surveys for q in s.questions}
    if wanted:
        questions.update({q.id: q for q in surveys.questions_of(session, wanted)})
    rows = []
    for row in asked:
        answered = [(questions[int(k)].prompt if k.isdigit() and int(k) in questions else f"Question {k}",
                     _shown(questions[int(k)], v) if k.isdigit() and int(k) in questions else str(v))
                    for k, v in row.answers.items()]
        rows.append({"row": row, "answers": answered})
    forms = [{"survey": s, "questions": s.questions} for s in open_surveys]
    return {"survey_rows": rows, "survey_forms": forms, "answer_channels": ANSWER_CHANNELS,
            "invite_outcome": INVITE_OUTCOMES.get(outcome),
            "silence": listening.customer_silence(session, customer_id, asked)}


@router.post("/customers/{customer_id:int}/survey-invitation")
def invite_customer(customer_id: int, manager: ManagerUser, session: WriteSessionDep, settings: SettingsDep,
                    form: FormFields) -> RedirectResponse:
    """Ask this one customer by e-mail (managers): the same rules as a send to a segment, reported on the profile."""
    survey_id = _whole(_text(form, "survey_id"), "Survey", "survey_id")
    if survey_id is None:
        raise ValidationFailed("Survey: choose one.", field="survey_id")
    report = survey_audiences.send_survey(session, survey_id, survey_audiences.Audience.customer(customer_id),
                                          settings=settings, sent_by_user_id=manager.user_id)
    outcome = next((reason for reason, n in report.counts.items() if n), "not_found")
    return RedirectResponse(f"/customers/{customer_id}?{urlencode({'saved': 'invited', 'outcome': outcome})}#surveys",
                            status_code=303)


@router.post("/customers/{customer_id:int}/survey-link", response_class=HTMLResponse)
def hand_over_link(request: Request, customer_id: int, user: StaffUser, session: WriteSessionDep,
                   settings: SettingsDep, templates: TemplatesDep, form: FormFields) -> HTMLResponse:
    """Make a personal survey link for staff to give the customer (text message, receipt); shown once, here."""
    survey_id = _whole(_text(form, "survey_id"), "Survey", "survey_id")
    if survey_id is None:
        raise ValidationFailed("Survey: choose one.", field="survey_id")
    link = survey_audiences.issue_link(session, survey_id, customer_id, settings=settings,
                                       sent_by_user_id=user.user_id)
    return templates.TemplateResponse(request, "surveys/link.html", {
        "customer_id": customer_id, "link": link, "survey": surveys.get_survey(session, survey_id)})


@router.post("/customers/{customer_id:int}/survey-answers")
def record_answer(customer_id: int, user: StaffUser, session: WriteSessionDep, form: FormFields) -> RedirectResponse:
    """Store the answers a customer gave in store or by phone, typed in by staff, then show the profile."""
    survey_id = _whole(_text(form, "survey_id"), "Survey", "survey_id")
    if survey_id is None:
        raise ValidationFailed("Survey: choose one.", field="survey_id")
    employee = _whole(_text(form, "employee_id"), "Served by", "employee_id")
    if employee is not None and session.get(Employee, employee) is None:
        raise ValidationFailed("Served by: choose someone from the list.", field="employee_id")
    answers = {k: v for k, v in form.items() if k.startswith("q")}
    surveys.record_answers_for_customer(session, survey_id, customer_id, answers, user.user_id,
                                        _text(form, "channel") or "store", employee_id=employee)
    return RedirectResponse(f"/customers/{customer_id}?saved=survey#surveys", status_code=303)
