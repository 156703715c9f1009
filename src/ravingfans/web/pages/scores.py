"""Value pages: the ranked list of fans from the newest scoring run, and the helpers the customer pages share.

Reading only: runs are made by ``ravingfans score``; these pages show what the newest one stored.
Managers and owners can download the current view of the fans list as CSV (``/fans.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from ravingfans.analytics.rfm import DEFAULT_SEGMENTS
from ravingfans.analytics.scoring import FAN_SEGMENTS
from ravingfans.config import Settings
from ravingfans.db.models import ScoreRun
from ravingfans.errors import ValidationFailed
from ravingfans.clock import utcnow
from ravingfans.services import customers, scoring
from ravingfans.services.customers import CustomerProfile
from ravingfans.services.fan_export import fans_csv, fans_filename
from ravingfans.web.auth import ManagerUser
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep
from ravingfans.web.formatting import to_zone

router = APIRouter()

FANS = "fans"  # the segment filter's value for every fan segment together
EVERYONE = "all"
SORT_LABELS = {"clv": "Value (CLV)", "spend": "Total spend", "frequency": "Repeat purchases",
               "recency": "Most recent visit", "p_alive": "P(alive)"}
LIMITS = (25, 50, 100, 250, 500)
_SEGMENT_ORDER = {name: i for i, (name, _r, _fm) in enumerate(DEFAULT_SEGMENTS)}


@dataclass(frozen=True)
class SegmentChoice:
    """A segment a list can be filtered by, with how many customers of the run are in it."""

    name: str
    customers: int
    clv: float


def segment_choices(session: Session, run_id: int | None, selected: str = "") -> list[SegmentChoice]:
    """The segments of a run in the segment map's order (then by name), plus ``selected`` if the run lacks it."""
    counts = scoring.segment_counts(session, run_id) if run_id is not None else {}
    if selected and selected not in counts and selected not in (FANS, EVERYONE):
        counts[selected] = (0, 0.0)
    names = sorted(counts, key=lambda name: (_SEGMENT_ORDER.get(name, len(_SEGMENT_ORDER)), name))
    return [SegmentChoice(name, *counts[name]) for name in names]


@dataclass(frozen=True)
class Unscored:
    """Why a customer has no segment or value, and what ``ravingfans score`` would do about it (if anything)."""

    reason: str
    advice: str | None  # shown after "Run ravingfans score"


def unscored_reason(profile: CustomerProfile, newest: ScoreRun | None, settings: Settings) -> Unscored:
    """Why a customer has no segment or value yet, with what to do about it."""
    if newest is None:
        return Unscored("Nobody has been scored yet.", "to see segments and value.")
    as_of = newest.observation_end.isoformat()
    first = profile.stats.first_purchase_at
    if first is None:
        return Unscored("Not scored: segments and value come from purchases, and this customer has none on "
                        f"record (latest scoring run as of {as_of}).", None)
    first_day = to_zone(first, settings.zone).date()
    if first_day > newest.observation_end:
        return Unscored(f"Not scored yet: their first purchase ({first_day.isoformat()}) came after the latest "
                        f"scoring run (as of {as_of}).", "again to include them.")
    return Unscored(f"Not in the latest scoring run (as of {as_of}).", "again to include them.")


def fans_url(segment: str = FANS, sort: str = "clv", limit: int = 50) -> str:
    """The fans-page address for these settings, leaving defaults out."""
    params: dict[str, Any] = {}
    if segment != FANS:
        params["segment"] = segment
    if sort != "clv":
        params["sort"] = sort
    if limit != 50:
        params["limit"] = limit
    return "/fans" + ("?" + urlencode(params) if params else "")


def _check_view(segment: str, sort: str, limit: int) -> tuple[str, ...]:
    """The segments a fans view shows, after checking its parameters (ValidationFailed naming the bad one)."""
    if sort not in SORT_LABELS:
        raise ValidationFailed(f"Sort: must be one of {', '.join(SORT_LABELS)}", field="sort")
    name = customers.check_segment(segment)  # the customer list's rule: length, no control characters
    if limit not in LIMITS:
        raise ValidationFailed(f"Show: must be one of {', '.join(map(str, LIMITS))}", field="limit")
    return FAN_SEGMENTS if name == FANS else () if name == EVERYONE else (name,)


def export_url(segment: str = FANS, sort: str = "clv", limit: int = 50) -> str:
    """The CSV address of a fans view."""
    return fans_url(segment, sort, limit).replace("/fans", "/fans.csv", 1)


@router.get("/fans", response_class=HTMLResponse)
def fans_page(
    request: Request,
    session: SessionDep,
    templates: TemplatesDep,
    segment: str = FANS,
    sort: str = "clv",
    limit: int = 50,
) -> HTMLResponse:
    """The raving fans of the newest scoring run (or any segment), best first by value, spend, frequency or recency."""
    segments = _check_view(segment, sort, limit)
    run = scoring.latest_run(session)
    rows = scoring.fans(session, segments=segments, sort=sort, limit=limit, run_id=run.id) if run is not None else []
    return templates.TemplateResponse(request, "scores/fans.html", {
        "run": run,
        "rows": rows,
        "segment": segment,
        "sort": sort,
        "limit": limit,
        "fan_segments": FAN_SEGMENTS,
        "fans_value": FANS,
        "everyone_value": EVERYONE,
        "segments": segment_choices(session, run.id if run is not None else None,
                                    segment if segment not in (FANS, EVERYONE) else ""),
        "sort_labels": SORT_LABELS,
        "limits": LIMITS,
        "fans_url": fans_url,
        "export_url": export_url(segment, sort, limit),
    })


@router.get("/fans.csv")
def fans_export(
    _manager: ManagerUser,
    session: SessionDep,
    settings: SettingsDep,
    segment: str = FANS,
    sort: str = "clv",
    limit: int = 50,
) -> Response:
    """The fans view (same segment, sort and length) as a CSV download; managers and owners only.

    Before the first scoring run the view is empty, and so is the file (its header line only).
    """
    segments = _check_view(segment, sort, limit)
    run = scoring.latest_run(session)
    rows = scoring.fans(session, segments=segments, sort=sort, limit=limit, run_id=run.id) if run is not None else []
    name = fans_filename(segment, sort, utcnow().astimezone(settings.zone).date())
    return Response(fans_csv(rows).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})
