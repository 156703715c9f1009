"""Task pages: "My tasks", the quiet-hour queue, the follow-up rules, and the forms that work a task.

Reads on GET; each form POSTs to a service (:mod:`ravingfans.services.tasks`, :mod:`ravingfans.services.rules`)
and 303s back to the page it came from. Every signed-in user works tasks (done, snooze, reassign, dismiss)
and reads the rules; managers switch rules on and off and tune them. Completing a call is at most three
actions: pick how it went, say what was said (if anything), press Done.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db.models import RATINGS
from ravingfans.errors import Conflict, ValidationFailed
from ravingfans.services import rules, tasks
from ravingfans.web.auth import ManagerUser, StaffUser
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep, WriteSessionDep

router = APIRouter()

DUE_CHOICES = {"today": "Due by today", "week": "Due in the next 7 days", "all": "Every open task"}
SNOOZE_DAYS = ((1, "until tomorrow"), (2, "for 2 days"), (7, "for a week"), (14, "for 2 weeks"), (30, "for a month"))
SAVED = {"done": "Done: it is on the customer's timeline.", "snoozed": "Snoozed.", "reassigned": "Reassigned.",
         "dismissed": "Dismissed.", "already": "That task was already closed by someone; nothing was changed.",
         "rule": "Rule saved."}
_BACK = re.compile(r"^/(tasks(/queue)?|customers/\d+)(\?[A-Za-z0-9_=&%.-]*)?$")


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form as a plain dict of strings (the last value of a repeated field)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormFields = Annotated[dict[str, str], Depends(form_fields)]


def _clock(request: Request) -> Clock:
    clock: Clock = getattr(request.app.state, "clock", utcnow)
    return clock


def _today(request: Request, settings: Settings) -> date:
    return _clock(request)().astimezone(settings.zone).date()


def _back(value: str | None, default: str = "/tasks") -> str:
    """Where a form goes back to: a task page or a profile (anything else: ``default``)."""
    return value if value and _BACK.match(value) else default


def _after(back: str, saved: str, task_id: int) -> RedirectResponse:
    path, _, query = back.partition("?")
    kept = [part for part in query.split("&") if part and not part.startswith(("saved=", "task="))]
    kept += [urlencode({"saved": saved, "task": task_id})]
    anchor = "#tasks" if path.startswith("/customers/") else ""
    return RedirectResponse(f"{path}?{'&'.join(kept)}{anchor}", status_code=303)


def _common(session: Session, back: str, saved: str, today: date) -> dict[str, Any]:
    """What every list of task cards needs: the forms' choices and the flash."""
    return {"employees": tasks.active_employees(session), "ratings": tuple(RATINGS), "snooze_days": SNOOZE_DAYS,
            "today": today, "back": back, "saved_message": SAVED.get(saved), "max_note": tasks.MAX_NOTE}


# --- lists --------------------------------------------------------------------------------------------------------


@router.get("/tasks", response_class=HTMLResponse)
def my_tasks(request: Request, principal: StaffUser, session: SessionDep, settings: SettingsDep,
             templates: TemplatesDep, owner: str = "", due: str = "today", saved: str = "") -> HTMLResponse:
    """My tasks: the signed-in user's (their employee record, by e-mail), or the unowned ones; any owner's on ask."""
    if due not in DUE_CHOICES:
        raise ValidationFailed(f"Show: must be one of {', '.join(DUE_CHOICES)}", field="due")
    today = _today(request, settings)
    me = tasks.employee_for_email(session, principal.email)
    chosen = owner or ("me" if me is not None else "none")
    employees = dict(tasks.active_employees(session))
    owner_id: int | None = None
    if chosen == "me":
        if me is None:
            raise ValidationFailed("Owner: your sign-in e-mail is not an employee's, so you have no tasks of your own; "
                                   "choose the unowned tasks or someone's.", field="owner")
        owner_id, title = me.id, "My tasks"
    elif chosen == "none":
        title = "Unowned tasks"
    elif chosen == "all":
        title = "Everyone's tasks"
    elif chosen.isdigit() and int(chosen) in employees:
        owner_id, title = int(chosen), f"{employees[int(chosen)]}'s tasks"
    else:
        raise ValidationFailed("Owner: choose someone from the list.", field="owner")
    due_by = {"today": today, "week": today + timedelta(days=7), "all": None}[due]
    rows = tasks.list_tasks(session, today=today, owner_id=owner_id, unowned=chosen == "none", due_by=due_by)
    query = urlencode({k: v for k, v in (("owner", owner), ("due", due if due != "today" else "")) if v})
    back = "/tasks" + (f"?{query}" if query else "")
    return templates.TemplateResponse(request, "tasks/list.html", {
        **_common(session, back, saved, today), "rows": rows, "title": title, "employee": me, "owner": chosen,
        "due": due, "due_choices": DUE_CHOICES, "owners": employees})


@router.get("/tasks/queue", response_class=HTMLResponse)
def queue(request: Request, session: SessionDep, settings: SettingsDep, templates: TemplatesDep,
          saved: str = "") -> HTMLResponse:
    """The quiet-hour queue: open tasks due by today, most valuable first, dealt round the staff."""
    today = _today(request, settings)
    return templates.TemplateResponse(request, "tasks/queue.html", {
        **_common(session, "/tasks/queue", saved, today),
        "rows": tasks.quiet_hour_queue(session, today=today), "due_count": tasks.count_due(session, today=today)})


def task_context(session: Session, customer_id: int, today: date) -> dict[str, Any]:
    """The profile's Tasks section: the customer's open tasks, with the forms' choices."""
    back = f"/customers/{customer_id}"
    open_tasks = tasks.list_tasks(session, today=today, customer_id=customer_id, limit=20)
    # the cards' forms need the staff list; most customers have no open task, and then no card and no query
    return {"customer_tasks": open_tasks, "task_forms": _common(session, back, "", today) if open_tasks else {}}


# --- working a task -----------------------------------------------------------------------------------------------


@router.post("/tasks/{task_id:int}/done")
def done(request: Request, task_id: int, principal: StaffUser, session: WriteSessionDep,
         form: FormFields) -> RedirectResponse:
    """Mark a task done and log the moment of truth it was (rated if a rating was picked)."""
    back = _back(form.get("back"))
    try:
        tasks.complete_task(session, task_id, rating=form.get("rating") or None, note=form.get("note", ""),
                            user_id=principal.user_id, clock=_clock(request))
    except Conflict:
        return _after(back, "already", task_id)
    return _after(back, "done", task_id)


@router.post("/tasks/{task_id:int}/snooze")
def snooze(request: Request, task_id: int, session: WriteSessionDep, settings: SettingsDep,
           form: FormFields) -> RedirectResponse:
    """Put a task away for some days (or until a day typed in); it comes back by itself."""
    back = _back(form.get("back"))
    until_text = form.get("until", "").strip()
    if until_text:
        until = tasks.parse_day(until_text, "Snooze until", "until")
    else:
        days = form.get("days", "")
        if days not in {str(n) for n, _label in SNOOZE_DAYS}:
            raise ValidationFailed("Snooze: choose how long from the list, or type a day.", field="days")
        until = _today(request, settings) + timedelta(days=int(days))
    try:
        tasks.snooze_task(session, task_id, until, zone=settings.zone, clock=_clock(request))
    except Conflict:
        return _after(back, "already", task_id)
    return _after(back, "snoozed", task_id)


@router.post("/tasks/{task_id:int}/reassign")
def reassign(task_id: int, session: WriteSessionDep, form: FormFields) -> RedirectResponse:
    """Give a task to someone else on the staff, or to nobody."""
    back = _back(form.get("back"))
    chosen = form.get("employee_id", "").strip()
    if chosen and not chosen.isdigit():
        raise ValidationFailed("Give to: choose someone from the list.", field="employee_id")
    try:
        tasks.reassign_task(session, task_id, int(chosen) if chosen else None)
    except Conflict:
        return _after(back, "already", task_id)
    return _after(back, "reassigned", task_id)


@router.post("/tasks/{task_id:int}/dismiss")
def dismiss(request: Request, task_id: int, principal: StaffUser, session: WriteSessionDep,
            form: FormFields) -> RedirectResponse:
    """Close a task that no longer needs doing."""
    back = _back(form.get("back"))
    try:
        tasks.dismiss_task(session, task_id, note=form.get("note", ""), user_id=principal.user_id,
                           clock=_clock(request))
    except Conflict:
        return _after(back, "already", task_id)
    return _after(back, "dismissed", task_id)


# --- rules --------------------------------------------------------------------------------------------------------


def _rules_page(request: Request, session: Session, templates: Jinja2Templates, *, saved: str = "",
                failed: str = "", error: ValidationFailed | None = None,
                typed: Mapping[str, str] | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "tasks/rules.html", {
        "rules": rules.list_rules(session), "saved_message": SAVED.get(saved), "saved_rule": request.query_params.get(
            "rule", ""), "failed": failed, "error": error, "typed": typed or {}},
        status_code=422 if error else 200)


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, session: SessionDep, templates: TemplatesDep, saved: str = "") -> HTMLResponse:
    """The follow-up rules: what each does, on or off, its tuning (managers change them here)."""
    return _rules_page(request, session, templates, saved=saved)


@router.post("/rules/{rule}", response_model=None)
def save_rule(request: Request, rule: str, _manager: ManagerUser, session: WriteSessionDep, templates: TemplatesDep,
              form: FormFields) -> HTMLResponse | RedirectResponse:
    """Switch a rule on or off and save its tuning (managers); the form again, with the problem, if refused."""
    spec = rules.require_spec(rule)
    values = {param.name: form.get(param.name, "") for param in spec.params}
    try:
        rules.update_rule(session, rule, enabled=form.get("enabled") == "on", params=values, clock=_clock(request))
    except ValidationFailed as exc:  # refused before anything was written
        return _rules_page(request, session, templates, failed=rule, error=exc, typed=form)
    return RedirectResponse(f"/rules?{urlencode({'saved': 'rule', 'rule': rule})}#rule-{rule}", status_code=303)
