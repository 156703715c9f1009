"""Campaign and gift pages: the list with verdicts, making one, starting it, redemptions, and the report.

Reads on GET (a closed campaign's report was stored when it closed: the page only reads it); writes on
POST through a service, then a 303. Managers keep the gift catalog and make, start and close campaigns;
every signed-in user sees them and records a redemption. Starting is two steps, as sending a survey:
``/preview`` counts the groups and who would be left out (a dry run), and its confirm button starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from ravingfans.errors import Conflict, ValidationFailed
from ravingfans.services import campaigns, gifts
from ravingfans.web.auth import ManagerUser, StaffUser
from ravingfans.web.charts import SVG_NS
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep, WriteSessionDep
from ravingfans.web.pages.surveys import FormFields

router = APIRouter()

SAVED = {"created": "Campaign made (a draft): count who it reaches, then start it.",
         "started": "Campaign started: the hold-out is set and the gift is on its way.",
         "running": "This campaign was already running: nothing was assigned or sent again.",
         "closed": "Campaign closed: its report is below.",
         "redeemed": "Redemption recorded.", "already": "That redemption was already recorded."}
GIFT_SAVED = {"added": "Gift added to the catalog.", "retired": "Gift retired: past campaigns keep it."}
VERDICT_BADGES = {"lift": "magic", "harm": "misery", "no_effect": "mediocre", "too_few": "mediocre",
                  "no_holdout": "mediocre", "empty": "mediocre"}
MEMBERS_SHOWN = 200


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key, "")
    return value if isinstance(value, str) else ""


def _list(form: Mapping[str, Any], key: str) -> list[str]:
    value = form.get(key, [])
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]


def _number(value: str, label: str, field: str, *, required: bool = False) -> int | None:
    value = value.strip()
    if not value:
        if required:
            raise ValidationFailed(f"{label}: write a number.", field=field)
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise ValidationFailed(f"{label}: write a whole number.", field=field)
    return int(value)


def _share(value: str) -> float | None:
    value = value.strip().rstrip("%").strip()
    if not value:
        return None
    try:
        share = float(value)
    except ValueError:
        raise ValidationFailed("Hold-out share: write a percentage such as 20.", field="holdout_share") from None
    return share / 100


# --- the interval, drawn -------------------------------------------------------------------------------------------


def interval_chart(low: float, estimate: float, high: float, *, chart_id: str, title: str, describe: str,
                   label: str, width: int = 560, height: int = 70) -> Markup:
    """One confidence interval on a number line through zero: a bar from low to high, a mark at the estimate."""
    from html import escape

    span = max(abs(low), abs(high), abs(estimate), 1e-9) * 1.15
    left, right = 20.0, width - 20.0

    def x(value: float) -> float:
        return left + (value + span) / (2 * span) * (right - left)

    def num(value: float) -> str:
        return f"{value:.1f}"

    def esc(text: str) -> str:
        return escape(text, quote=True)

    parts = [f'<svg xmlns="{SVG_NS}" id="{esc(chart_id)}" class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{esc(title)}" aria-describedby="{esc(chart_id)}-desc" preserveAspectRatio="xMinYMin meet">',
             f"<title>{esc(title)}</title>", f'<desc id="{esc(chart_id)}-desc">{esc(describe)}</desc>',
             f'<line class="axis" x1="{left}" y1="30" x2="{right}" y2="30"/>',
             f'<line class="axis" x1="{num(x(0))}" y1="8" x2="{num(x(0))}" y2="52"/>',
             f'<text class="label" x="{num(x(0))}" y="66" text-anchor="middle">0</text>',
             f'<rect class="bar{" negative" if high < 0 else ""}" x="{num(x(low))}" y="22" '
             f'width="{num(max(x(high) - x(low), 2.0))}" height="16"/>',
             f'<line class="axis" x1="{num(x(estimate))}" y1="14" x2="{num(x(estimate))}" y2="46"/>',
             f'<text class="value" x="{num(x(estimate))}" y="10" text-anchor="middle">{esc(label)}</text>',
             "</svg>"]
    return Markup("".join(parts))


def _charts(report: Mapping[str, Any] | None) -> dict[str, Markup]:
    if not report or report["lift"]["return_rate"] is None:
        return {}
    rate = report["lift"]["return_rate"]
    low, est, high = (rate[k] * 100 for k in ("low", "estimate", "high"))
    out = {"rate": interval_chart(
        low, est, high, chart_id="rate-interval", title="Return rate: treated minus held out, per 100 customers",
        describe=f"The gift changed the return rate by {est:+.1f} per 100 customers; the 95% interval runs from "
                 f"{low:+.1f} to {high:+.1f}.", label=f"{est:+.1f} per 100")}
    revenue = report["lift"]["revenue_per_customer"]
    if revenue is not None:
        out["revenue"] = interval_chart(
            revenue["low"], revenue["estimate"], revenue["high"], chart_id="revenue-interval",
            title="Revenue per customer: treated minus held out",
            describe=f"Revenue per customer changed by {revenue['estimate']:+.2f}; the 95% interval runs from "
                     f"{revenue['low']:+.2f} to {revenue['high']:+.2f}.", label=f"{revenue['estimate']:+.2f}")
    return out


# --- the list, making one ------------------------------------------------------------------------------------------


@router.get("/campaigns", response_class=HTMLResponse)
def campaign_list(request: Request, session: SessionDep, templates: TemplatesDep, saved: str = "") -> HTMLResponse:
    """Every campaign with its state, groups and verdict."""
    return templates.TemplateResponse(request, "campaigns/list.html", {
        "campaigns": campaigns.list_campaigns(session), "badges": VERDICT_BADGES, "saved_message": SAVED.get(saved)})


def _new_page(request: Request, session: Session, templates: Jinja2Templates, settings: Any,
              values: Mapping[str, Any] | None = None, error: ValidationFailed | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "campaigns/new.html", {
        "values": values or {"kind": "win_back", "delivery": "email", "window_days": "60",
                             "holdout_share": f"{settings.campaign_holdout_share * 100:g}", "slipping": "yes"},
        "gifts": gifts.list_gifts(session, include_retired=False), "kinds": campaigns.KIND_LABELS,
        "deliveries": campaigns.DELIVERY_LABELS, "segments_for": campaigns.SEGMENTS_FOR, "error": error,
        "max_name": campaigns.MAX_NAME, "max_message": campaigns.MAX_MESSAGE}, status_code=422 if error else 200)


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_campaign_form(request: Request, _manager: ManagerUser, session: SessionDep, settings: SettingsDep,
                      templates: TemplatesDep) -> HTMLResponse:
    """The form to make a campaign (managers)."""
    return _new_page(request, session, templates, settings)


@router.post("/campaigns", response_model=None)
def create_campaign(request: Request, _manager: ManagerUser, session: WriteSessionDep, settings: SettingsDep,
                    templates: TemplatesDep, form: FormFields) -> HTMLResponse | RedirectResponse:
    """Make the campaign as a draft (managers), then show it; the form again, with the problem, if refused."""
    kind = _text(form, "kind")
    segments = _list(form, f"segments_{kind}") if kind in campaigns.SEGMENTS_FOR else []
    try:
        info = campaigns.create_campaign(
            session, settings, name=_text(form, "name"), kind=kind,
            gift_id=_number(_text(form, "gift_id"), "Gift", "gift_id", required=True) or 0,
            segments=segments, slipping=_text(form, "slipping") == "yes" and kind == "win_back",
            holdout_share=_share(_text(form, "holdout_share")),
            seed=_number(_text(form, "seed"), "Seed", "seed"), delivery=_text(form, "delivery"),
            window_days=_number(_text(form, "window_days"), "Window", "window_days") or 60,
            message=_text(form, "message"))
    except Conflict as exc:  # the name is taken: show it on the form, by the name
        return _new_page(request, session, templates, settings, form, ValidationFailed(exc.message, field="name"))
    except ValidationFailed as exc:
        return _new_page(request, session, templates, settings, form, exc)
    return RedirectResponse(f"/campaigns/{info.id}?saved=created", status_code=303)


# --- one campaign --------------------------------------------------------------------------------------------------


def _detail_page(request: Request, session: Session, templates: Jinja2Templates, campaign_id: int, *,
                 saved: str = "", preview: Any = None, error: ValidationFailed | None = None) -> HTMLResponse:
    info = campaigns.get_campaign(session, campaign_id)
    members = campaigns.members_of(session, campaign_id, limit=MEMBERS_SHOWN) if info.status != "draft" else []
    return templates.TemplateResponse(request, "campaigns/detail.html", {
        "c": info, "saved_message": SAVED.get(saved), "preview": preview, "error": error, "members": members,
        "members_shown": MEMBERS_SHOWN, "charts": _charts(info.report), "badges": VERDICT_BADGES,
        "left_out_labels": campaigns.LEFT_OUT, "deliveries": campaigns.DELIVERY_LABELS,
        "tasks": campaigns.task_counts(session, campaign_id) if info.delivery == "task" else {},
    }, status_code=422 if error else 200)


@router.get("/campaigns/{campaign_id:int}", response_class=HTMLResponse)
def campaign_detail(request: Request, campaign_id: int, session: SessionDep, templates: TemplatesDep,
                    saved: str = "") -> HTMLResponse:
    """One campaign: its set-up, its groups, and once closed the report: the groups side by side and the lift."""
    return _detail_page(request, session, templates, campaign_id, saved=saved)


@router.post("/campaigns/{campaign_id:int}/preview", response_class=HTMLResponse)
def start_preview(request: Request, campaign_id: int, _manager: ManagerUser, session: SessionDep,
                  settings: SettingsDep, templates: TemplatesDep) -> HTMLResponse:
    """Count the groups and who would be left out (a dry run: nothing is assigned or sent)."""
    try:
        report = campaigns.start_campaign(session, settings, campaign_id, dry_run=True)
    except ValidationFailed as exc:
        return _detail_page(request, session, templates, campaign_id, error=exc)
    return _detail_page(request, session, templates, campaign_id, preview=report)


@router.post("/campaigns/{campaign_id:int}/start")
def start(campaign_id: int, _manager: ManagerUser, session: WriteSessionDep, settings: SettingsDep,
          form: FormFields) -> RedirectResponse:
    """Start the campaign previewed (managers): the hold-out is drawn and the gift given to the treated group."""
    if _text(form, "confirm") != "yes":
        raise ValidationFailed("Start: count who it reaches first, then confirm.", field="confirm")
    report = campaigns.start_campaign(session, settings, campaign_id)
    return RedirectResponse(f"/campaigns/{campaign_id}?saved={'running' if report.already_started else 'started'}",
                            status_code=303)


@router.post("/campaigns/{campaign_id:int}/close")
def close(campaign_id: int, _manager: ManagerUser, session: WriteSessionDep, settings: SettingsDep) -> RedirectResponse:
    """Close the campaign now and store its report (managers); closing again changes nothing."""
    campaigns.close_campaign(session, settings, campaign_id)
    return RedirectResponse(f"/campaigns/{campaign_id}?saved=closed", status_code=303)


@router.post("/campaigns/{campaign_id:int}/redemptions")
def redeem(campaign_id: int, _staff: StaffUser, session: WriteSessionDep, form: FormFields) -> RedirectResponse:
    """Record that a treated customer used the gift, optionally with the order (anyone signed in)."""
    done = campaigns.record_redemption(
        session, campaign_id, _number(_text(form, "customer_id"), "Customer", "customer_id", required=True) or 0,
        order_id=_number(_text(form, "order_id"), "Order", "order_id"))
    return RedirectResponse(f"/campaigns/{campaign_id}?saved={'already' if done.already else 'redeemed'}",
                            status_code=303)


# --- the gift catalog ----------------------------------------------------------------------------------------------


def _gifts_page(request: Request, session: Session, templates: Jinja2Templates, *, saved: str = "",
                values: Mapping[str, Any] | None = None, error: ValidationFailed | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "campaigns/gifts.html", {
        "gifts": gifts.list_gifts(session), "kinds": gifts.KIND_LABELS, "values": values or {"kind": "discount_code"},
        "error": error, "saved_message": GIFT_SAVED.get(saved), "max_name": gifts.MAX_NAME,
        "max_code": gifts.MAX_CODE, "max_description": gifts.MAX_DESCRIPTION}, status_code=422 if error else 200)


@router.get("/gifts", response_class=HTMLResponse)
def gift_catalog(request: Request, session: SessionDep, templates: TemplatesDep, saved: str = "") -> HTMLResponse:
    """The gift catalog, and (managers) the form to add a gift."""
    return _gifts_page(request, session, templates, saved=saved)


@router.post("/gifts", response_model=None)
def add_gift(request: Request, _manager: ManagerUser, session: WriteSessionDep, templates: TemplatesDep,
             form: FormFields) -> HTMLResponse | RedirectResponse:
    """Add a gift (managers); the catalog again, with the problem, if refused."""
    try:
        gifts.add_gift(session, name=_text(form, "name"), kind=_text(form, "kind"), code=_text(form, "code"),
                       value=_text(form, "value"), description=_text(form, "description"))
    except Conflict as exc:
        return _gifts_page(request, session, templates, values=form, error=ValidationFailed(exc.message, field="name"))
    except ValidationFailed as exc:
        return _gifts_page(request, session, templates, values=form, error=exc)
    return RedirectResponse("/gifts?saved=added", status_code=303)


@router.post("/gifts/{gift_id:int}/retire")
def retire_gift(gift_id: int, _manager: ManagerUser, session: WriteSessionDep) -> RedirectResponse:
    """Retire a gift (managers): past campaigns keep it; new ones cannot choose it."""
    gifts.retire_gift(session, gift_id)
    return RedirectResponse("/gifts?saved=retired", status_code=303)
