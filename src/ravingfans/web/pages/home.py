"""The Home page: counts and trends, today's work (slipping fans, fans to thank, misery moments) and charts.

Reading only. The numbers come from :func:`ravingfans.services.dashboard.home_summary`; this module
turns them into server-side SVG charts (:mod:`ravingfans.web.charts`) and the template.
"""

from __future__ import annotations

from datetime import date
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ravingfans.clock import Clock, utcnow
from ravingfans.services import dashboard
from ravingfans.web import charts
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep
from ravingfans.web.formatting import format_money

router = APIRouter()


def get_clock(request: Request) -> Clock:
    """The app's clock: ``app.state.clock`` when set (tests, demos), else the real time."""
    clock: Clock = getattr(request.app.state, "clock", utcnow)
    return clock


def month_label(month: date) -> str:
    """``Jun 2024`` (the chart's axis and the table's first column)."""
    return f"{month:%b %Y}"


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, settings: SettingsDep, templates: TemplatesDep) -> HTMLResponse:
    """What the owner reads in the morning: counts, value at risk, revenue trends and today's work."""
    summary = dashboard.home_summary(session, settings, clock=get_clock(request))
    money = partial(format_money, currency=settings.currency)
    since = month_label(summary.months[0].month) if summary.months else ""
    segment_chart = charts.bar_chart(
        [(row.segment, float(row.revenue)) for row in summary.revenue_by_segment],
        chart_id="segment-revenue-chart", title=f"Revenue by segment since {since}",
        describe="Net revenue of the last twelve months by the buyer's segment; the table below has the numbers.",
        fmt=lambda v: money(v)) if summary.revenue_by_segment else None
    month_chart = charts.column_chart(
        [(f"{point.month:%b}", float(point.revenue)) for point in summary.months],
        chart_id="monthly-revenue-chart", title=f"Revenue by month since {since}",
        describe="Net revenue per calendar month; the table below has the numbers.", fmt=lambda v: money(v))
    active_chart = charts.column_chart(
        [(f"{point.month:%b}", float(point.active_customers)) for point in summary.months],
        chart_id="monthly-active-chart", title=f"Customers who bought, by month since {since}",
        describe="How many customers bought in each calendar month; the table below has the numbers.",
        fmt=lambda v: f"{v:,.0f}")
    return templates.TemplateResponse(request, "home.html", {
        "s": summary,
        "segment_chart": segment_chart,
        "month_chart": month_chart,
        "active_chart": active_chart,
        "month_label": month_label,
        "thank_days": dashboard.THANK_DAYS,
        "misery_days": dashboard.MISERY_DAYS,
    })
