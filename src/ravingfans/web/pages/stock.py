"""Back in stock and holds: the /holds page (open holds by variant, who waits for what, recent restocks), setting a
variant's stock, telling waiting customers now, and the waits and holds on a customer's profile.

Reads on GET, writes on POST through :mod:`ravingfans.services.restock`, then a 303. Every signed-in user sees the
page, adds or cancels a customer's wait and releases a hold (they work the till); managers set stock and start the
fan-out by hand (the worker also runs it).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from ravingfans.config import Settings
from ravingfans.errors import ValidationFailed
from ravingfans.services import restock
from ravingfans.web.auth import ManagerUser, StaffUser
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep, WriteSessionDep

router = APIRouter()

MAX_STOCK_DIGITS = 9
SAVED = {"released": "Hold released: the unit is free to sell.",
         "already": "That hold was already released.",
         "nothing": "No restock was waiting to be told."}


def stock_context(session: Session, customer_id: int, settings: Settings) -> dict[str, Any]:
    """What the profile's "Waiting for" section shows: the customer's open waits and holds, and the hold length."""
    return {"stock_waits": restock.list_waits(session, customer_id=customer_id),
            "stock_holds": restock.list_holds(session, customer_id=customer_id),
            "stock_hold_days": settings.hold_days}


def _whole(value: str, field: str, label: str) -> int:
    text = value.strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > MAX_STOCK_DIGITS:
        raise ValidationFailed(f"{label}: write a whole number of units (0 or more).", field=field)
    return int(text)


def _message(saved: str, params: dict[str, str]) -> str | None:
    if saved == "stock":
        text = f"Stock of {params.get('sku', '')} set to {params.get('after', '')} (was {params.get('before', '')})."
        if params.get("restock"):
            text += (" It is back in stock and customers wait for it: they will be told by e-mail when the worker "
                     "next runs, or now with “Tell waiting customers now”.")
        return text
    if saved == "notified":
        return (f"Told {params.get('notified', '0')} customer(s) by e-mail and held {params.get('held', '0')} unit(s); "
                f"{params.get('unreachable', '0')} could not be e-mailed (no address, no consent or unsubscribed). "
                "The e-mails go out with the next outbox run.")
    return SAVED.get(saved)


@router.get("/holds", response_class=HTMLResponse)
def holds_page(request: Request, session: SessionDep, settings: SettingsDep, templates: TemplatesDep,
               saved: str = "") -> HTMLResponse:
    """Open holds by variant with customer and expiry, who waits for what, and the latest restocks."""
    shown = {k: v for k, v in request.query_params.items() if k in ("sku", "before", "after", "restock", "notified",
                                                                     "held", "unreachable")}
    return templates.TemplateResponse(request, "stock/holds.html", {
        "holds": restock.list_holds(session),
        "waiting": restock.waits_by_variant(session),
        "restocks": restock.list_restocks(session, limit=20),
        "pending": restock.pending_restocks(session),
        "hold_days": settings.hold_days,
        "saved_message": _message(saved, shown),
    })


@router.post("/holds/{hold_id:int}/release")
def release_hold(hold_id: int, _user: StaffUser, session: WriteSessionDep,
                 back: Annotated[str, Form()] = "") -> RedirectResponse:
    """Let a hold go (the customer will not come, or the unit is needed), then show the holds again."""
    held = restock.list_holds(session, open_only=False, limit=1, hold_id=hold_id)
    done = restock.release_hold(session, hold_id, reason="staff")
    if back == "profile" and held:
        return RedirectResponse(f"/customers/{held[0].customer_id}#stock", status_code=303)
    return RedirectResponse(f"/holds?saved={'released' if done else 'already'}", status_code=303)


@router.post("/stock")
def set_stock(_manager: ManagerUser, session: WriteSessionDep, sku: Annotated[str, Form()] = "",
              stock: Annotated[str, Form()] = "") -> RedirectResponse:
    """Set a variant's stock (managers): stock coming back for a variant someone waits for makes a restock."""
    before, after, made = restock.set_stock(session, sku, _whole(stock, "stock", "Stock"), source="web")
    query = {"saved": "stock", "sku": sku.strip(), "before": str(before), "after": str(after)}
    if made is not None:
        query["restock"] = str(made)
    return RedirectResponse(f"/holds?{urlencode(query)}", status_code=303)


@router.post("/restocks/notify")
def notify(_manager: ManagerUser, session: WriteSessionDep, settings: SettingsDep) -> RedirectResponse:
    """Tell the waiting customers of every restock not yet told, now (managers); the worker does it too."""
    report = restock.fan_out(session, settings)
    if not report.restocks:
        return RedirectResponse("/holds?saved=nothing", status_code=303)
    query = {"saved": "notified", "notified": report.notified, "held": report.held, "unreachable": report.unreachable}
    return RedirectResponse(f"/holds?{urlencode(query)}", status_code=303)


@router.post("/customers/{customer_id:int}/waits")
def add_wait(customer_id: int, _user: StaffUser, session: WriteSessionDep, sku: Annotated[str, Form()] = "",
             want_hold: Annotated[str, Form()] = "") -> RedirectResponse:
    """Note that the customer waits for a variant (by SKU), then show their profile."""
    variant = restock.find_variant(session, sku)
    restock.add_wait(session, customer_id, variant.id, source="profile", want_hold=want_hold == "yes")
    return RedirectResponse(f"/customers/{customer_id}#stock", status_code=303)


@router.post("/customers/{customer_id:int}/waits/{wait_id:int}/cancel")
def cancel_wait(customer_id: int, wait_id: int, _user: StaffUser, session: WriteSessionDep) -> RedirectResponse:
    """The customer no longer waits for it: close the wait, then show their profile."""
    restock.cancel_wait(session, wait_id, customer_id=customer_id)
    return RedirectResponse(f"/customers/{customer_id}#stock", status_code=303)
