"""The settings page: the business's name, postal address, time zone and currency; owners only.

Saved values are stored in the database and win over the environment's, so every page shows them
from the next request on (see :mod:`ravingfans.services.business`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from ravingfans.errors import ValidationFailed
from ravingfans.services import business as business_service
from ravingfans.web.auth import OwnerUser
from ravingfans.web.deps import BusinessDep, TemplatesDep, WriteSessionDep, app_settings

router = APIRouter()


def _form(request: Request, templates: Jinja2Templates, values: dict[str, str], *, saved: bool = False,
          error: ValidationFailed | None = None, business: business_service.Business | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "settings/settings.html", {
        "values": values,
        "saved": saved,
        "error": error,
        "business": business,
        "zones": sorted(business_service.time_zones()),
        "max_name": business_service.MAX_NAME,
        "max_address": business_service.MAX_ADDRESS,
    }, status_code=422 if error else 200)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, _owner: OwnerUser, business: BusinessDep, templates: TemplatesDep,
                  saved: str = "") -> HTMLResponse:
    """The business's details as they are in force, in a form to change them."""
    values = {"business_name": business.name, "business_address": business.address,
              "time_zone": business.time_zone, "currency": business.currency}
    return _form(request, templates, values, saved=saved == "1", business=business)


@router.post("/settings", response_model=None)
def save_settings(
    request: Request,
    owner: OwnerUser,
    session: WriteSessionDep,
    templates: TemplatesDep,
    business_name: Annotated[str, Form()] = "",
    business_address: Annotated[str, Form()] = "",
    time_zone: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """Save the business's details, then show them again (or the form with what to fix)."""
    values = {"business_name": business_name, "business_address": business_address, "time_zone": time_zone,
              "currency": currency}
    try:
        change = business_service.parse_business(values)
    except ValidationFailed as exc:
        return _form(request, templates, values, error=exc)
    business_service.save_business(session, app_settings(request), change, user_id=owner.user_id)
    return RedirectResponse("/settings?saved=1", status_code=303)
