"""The Jinja2 environment for the pages: always autoescaped, strict about undefined names."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.templating import Jinja2Templates

from ravingfans import __version__
from ravingfans.config import Settings
from ravingfans.web.auth import csrf_field, session_principal
from ravingfans.web.formatting import (
    format_date,
    format_datetime,
    format_money,
    format_number,
    format_percent,
    humanize,
    iso_utc,
)

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")


def build_templates(settings: Settings) -> Jinja2Templates:
    """Templates whose filters show times in the business zone and money in its currency."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its name: user text is never markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    zone = settings.zone
    env.filters["localtime"] = partial(format_datetime, zone=zone)
    env.filters["localdate"] = partial(format_date, zone=zone)
    env.filters["money"] = partial(format_money, currency=settings.currency)
    env.filters["iso_utc"] = iso_utc
    env.filters["percent"] = format_percent
    env.filters["number"] = format_number
    env.filters["label"] = humanize
    env.globals["business_name"] = settings.business_name
    env.globals["time_zone"] = settings.time_zone
    env.globals["currency"] = settings.currency
    env.globals["asset_version"] = __version__
    env.globals["csrf_field"] = csrf_field
    env.globals["principal"] = session_principal
    return Jinja2Templates(env=env)
