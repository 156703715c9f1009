"""Word-of-mouth pages: the advocates list (and its CSV), and the profile's mentions and referral value.

Reads on GET; writes on POST through :mod:`ravingfans.services.word_of_mouth`, then a 303. Every
signed-in user sees the advocates and records a mention from a customer's profile; managers correct
and delete mentions and download the advocates as CSV (``/advocates.csv``).
"""

from __future__ import annotations

from types import EllipsisType
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ravingfans.clock import utcnow
from ravingfans.config import Settings
from ravingfans.db.models import ScoreRun
from ravingfans.errors import ValidationFailed
from ravingfans.services import word_of_mouth as wom
from ravingfans.services.relationship import Referrals
from ravingfans.services.runs import latest_run
from ravingfans.web.auth import ManagerUser
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep, WriteSessionDep

router = APIRouter()

LIMITS = (25, 50, 100, 250, 500)
MESSAGES = {"mention": "Mention recorded.", "mention_edited": "Mention corrected.",
            "mention_deleted": "Mention deleted.", "mention_gone": "That mention was deleted already; nothing changed."}
SENTIMENT_LABELS = {"praise": "Praise", "neutral": "Neutral", "complaint": "Complaint"}


def _profile(customer_id: int, saved: str) -> str:
    return f"/customers/{customer_id}?saved={saved}#mentions"


def profile_context(session: Session, customer_id: int, settings: Settings, links: Referrals | None = None, *,
                    run: ScoreRun | None | EllipsisType = ...) -> dict[str, Any]:
    """What the profile's word-of-mouth section (``word_of_mouth/_profile.html``) needs (``links``: the
    customer's referrals, ``run``: the latest scoring run, when the profile has them already)."""
    return {
        "word_of_mouth": wom.customer_word_of_mouth(session, customer_id, links, run=run),
        "mention_kinds": wom.KIND_LABELS,
        "mention_sentiments": SENTIMENT_LABELS,
        "mention_messages": MESSAGES,
        "max_mention_where": wom.MAX_WHERE,
        "max_mention_url": wom.MAX_URL,
        "max_mention_note": wom.MAX_NOTE,
    }


def _check_limit(limit: int) -> None:
    if limit not in LIMITS:
        raise ValidationFailed(f"Show: must be one of {', '.join(map(str, LIMITS))}", field="limit")


@router.get("/advocates", response_class=HTMLResponse)
def advocates_page(request: Request, session: SessionDep, templates: TemplatesDep, limit: int = 50,
                   saved: str = "") -> HTMLResponse:
    """Customers who spread the word, ranked by the revenue of the customers they referred."""
    _check_limit(limit)
    return templates.TemplateResponse(request, "word_of_mouth/advocates.html", {
        "rows": wom.advocates(session, limit=limit),
        "run": latest_run(session),
        "limit": limit,
        "limits": LIMITS,
        "recent": wom.list_mentions(session, limit=10),
        "kind_labels": wom.KIND_LABELS,
        "sentiment_labels": SENTIMENT_LABELS,
        "saved_message": MESSAGES.get(saved),
    })


@router.get("/advocates.csv")
def advocates_export(_manager: ManagerUser, session: SessionDep, settings: SettingsDep, limit: int = 50) -> Response:
    """The advocates list (same length) as a CSV download; managers and owners only."""
    _check_limit(limit)
    name = wom.advocates_filename(utcnow().astimezone(settings.zone).date())
    return Response(wom.advocates_csv(wom.advocates(session, limit=limit)).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


def mention_form(
    kind: Annotated[str, Form()] = "review",
    where: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    sentiment: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    employee_id: Annotated[str, Form()] = "",
    occurred_at: Annotated[str, Form()] = "",
) -> dict[str, str]:
    """The mention form's fields as posted (the add and the correct forms share them)."""
    return {"kind": kind, "where": where, "url": url, "sentiment": sentiment, "note": note,
            "employee_id": employee_id, "occurred_at": occurred_at}


MentionForm = Annotated[dict[str, str], Depends(mention_form)]


@router.post("/customers/{customer_id:int}/mentions")
def add_mention(
    customer_id: int,
    session: WriteSessionDep,
    settings: SettingsDep,
    form: MentionForm,
) -> RedirectResponse:
    """Record that the customer spoke of us (any signed-in user), then show the profile's mentions."""
    mention = wom.parse_mention(form, zone=settings.zone)
    wom.add_mention(session, customer_id, mention)
    return RedirectResponse(_profile(customer_id, "mention"), status_code=303)


@router.post("/mentions/{mention_id:int}/edit")
def edit_mention(
    mention_id: int,
    _manager: ManagerUser,
    session: WriteSessionDep,
    settings: SettingsDep,
    form: MentionForm,
) -> RedirectResponse:
    """Correct a mention (managers); a blank day keeps the one on record."""
    mention = wom.parse_mention(form, zone=settings.zone)
    entry = wom.update_mention(session, mention_id, mention)
    return RedirectResponse(_profile(entry.customer_id, "mention_edited"), status_code=303)


@router.post("/mentions/{mention_id:int}/delete")
def delete_mention(
    mention_id: int,
    _manager: ManagerUser,
    session: WriteSessionDep,
    customer_id: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Delete a mention (managers); sent twice (two tabs, a double click), the second one changes nothing."""
    owner = wom.delete_mention(session, mention_id)
    if owner is not None:
        return RedirectResponse(_profile(owner, "mention_deleted"), status_code=303)
    back = customer_id.strip()
    if back.isascii() and back.isdigit() and 1 <= len(back) <= 10:
        return RedirectResponse(_profile(int(back), "mention_gone"), status_code=303)
    return RedirectResponse("/advocates?saved=mention_gone", status_code=303)
