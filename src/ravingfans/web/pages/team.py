"""Team page: each employee and what they handled over a period, highest revenue first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ravingfans.services import team
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep

router = APIRouter()


@router.get("/team", response_class=HTMLResponse)
def team_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    since: str = "",
    until: str = "",
) -> HTMLResponse:
    """Orders, customers, revenue, repeat rate and moments of truth per employee (default: the last 365 days)."""
    chosen = team.period(team.parse_day(since, "since", "From"), team.parse_day(until, "until", "To"),
                         zone=settings.zone)
    report = team.team_report(session, chosen)
    return templates.TemplateResponse(request, "team.html", {"report": report, "period": chosen})
