"""The Jinja2 environment for the pages: always autoescaped, strict about undefined names.

The business's name, time zone and currency are read per request (the settings page can change them
while the app runs): the money and time filters and the ``business_name``, ``time_zone`` and
``currency`` names look them up through the request being rendered, once per request.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from ravingfans import __version__
from ravingfans.config import Settings
from ravingfans.web.auth import csrf_field, role_allows, session_principal
from ravingfans.web.deps import get_settings
from ravingfans.web.formatting import (
    format_date,
    format_datetime,
    format_money,
    format_number,
    format_percent,
    humanize,
    iso_utc,
)

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).with_name("templates")
_SHOWN = "_page_settings"  # the context name the filters read the page's settings under
STATIC_DIR = Path(__file__).with_name("static")


def page_settings(request: Request | None, fallback: Settings) -> Settings:
    """The settings a page is drawn with: the request's effective ones, else ``fallback`` (the environment's).

    A database that cannot be read falls back too, so an error page can still be drawn.
    """
    if request is None:
        return fallback
    try:
        return get_settings(request)
    except SQLAlchemyError as exc:
        log.warning("business settings unavailable, using the environment's: %s", type(exc).__name__)
        return fallback


def build_templates(settings: Settings) -> Jinja2Templates:
    """Templates whose filters show times in the business zone and money in its currency (read per request)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its name: user text is never markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship inside the package and change only with an upgrade, which restarts the server:
        # no stat() of every template file on every render to see whether it changed on disk.
        auto_reload=False,
    )

    def current(context: Context) -> Settings:
        # the page's settings, put in its context once by business_context (the filters run per row shown)
        shown = context.get(_SHOWN)
        return shown if isinstance(shown, Settings) else page_settings(context.get("request"), settings)

    @pass_context
    def localtime(context: Context, value: Any) -> str:
        return format_datetime(value, zone=current(context).zone)

    @pass_context
    def localdate(context: Context, value: Any) -> str:
        return format_date(value, zone=current(context).zone)

    @pass_context
    def money(context: Context, value: Any) -> str:
        return format_money(value, currency=current(context).currency)

    def business_context(request: Request) -> dict[str, Any]:
        shown = page_settings(request, settings)
        return {"business_name": shown.business_name, "time_zone": shown.time_zone, "currency": shown.currency,
                _SHOWN: shown}

    env.filters["localtime"] = localtime
    env.filters["localdate"] = localdate
    env.filters["money"] = money
    env.filters["iso_utc"] = iso_utc
    env.filters["percent"] = format_percent
    env.filters["number"] = format_number
    env.filters["label"] = humanize
    env.globals["asset_version"] = __version__
    env.globals["csrf_field"] = csrf_field
    env.globals["principal"] = session_principal
    env.globals["role_allows"] = role_allows
    return Jinja2Templates(env=env, context_processors=[business_context])
