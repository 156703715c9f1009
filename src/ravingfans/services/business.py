"""The business's own details: name, postal address, time zone and currency, changed on the settings page.

The environment (``RAVINGFANS_BUSINESS_NAME`` and friends, see docs/settings.md) gives the starting
values; what an owner saves is stored in ``business_settings`` and wins over them, so a change shows
on the next page without a restart. Time zones must be IANA names, currencies ISO 4217 codes.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pycountry
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db.models import BusinessSetting
from ravingfans.db.reads import read_rows
from ravingfans.services.common import validated
from ravingfans.services.inputs import CleanLine, CleanText

KEYS = ("business_name", "business_address", "time_zone", "currency")
MAX_NAME = 120
MAX_ADDRESS = 500


@dataclass(frozen=True, slots=True)
class Business:
    """The details in force, and when and by whom they were last changed on the settings page (if ever)."""

    name: str
    address: str
    time_zone: str
    currency: str
    changed_at: datetime | None = None
    changed_by: int | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The time zone, for showing times (they are stored in UTC)."""
        return ZoneInfo(self.time_zone)


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Every IANA time zone name this machine knows."""
    return frozenset(zoneinfo.available_timezones())


def currency_name(code: str) -> str | None:
    """The ISO 4217 name of a currency code (``EUR`` -> ``Euro``), or None when it is not one."""
    found = pycountry.currencies.get(alpha_3=code.upper()) if len(code) == 3 and code.isascii() else None
    return str(found.name) if found is not None else None


class BusinessChange(BaseModel):
    """The settings form: every field required, checked as the environment's values are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    business_name: Annotated[str, CleanLine, StringConstraints(min_length=1, max_length=MAX_NAME)]
    business_address: Annotated[str, CleanText, StringConstraints(max_length=MAX_ADDRESS)] = ""
    time_zone: Annotated[str, CleanLine, StringConstraints(min_length=1, max_length=64)]
    currency: Annotated[str, CleanLine, StringConstraints(min_length=3, max_length=3)]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in time_zones():
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin")
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        code = value.upper()
        if currency_name(code) is None:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (such as EUR, USD or GBP)")
        return code


def parse_business(data: Mapping[str, Any]) -> BusinessChange:
    """Validate the settings form; raises ValidationFailed naming the field."""
    return validated(BusinessChange, data)


def _base(settings: Settings) -> dict[str, str]:
    return {"business_name": settings.business_name, "business_address": settings.business_address,
            "time_zone": settings.time_zone, "currency": settings.currency}


def _usable(key: str, value: str) -> bool:
    """Whether a stored value can still be used (a zone this machine knows, a known currency)."""
    if key == "time_zone":
        return value in time_zones()
    if key == "currency":
        return currency_name(value) is not None
    return key == "business_address" or bool(value.strip())


# Built once, so its cache key is computed once too (every page reads it).
_SETTINGS_READ = (select(BusinessSetting.key, BusinessSetting.value, BusinessSetting.updated_at,
                         BusinessSetting.updated_by).where(BusinessSetting.key.in_(KEYS)))


def get_business(session: Session, settings: Settings) -> Business:
    """The details in force: the environment's, overridden by what was saved on the settings page (one query)."""
    values = _base(settings)
    changed_at: datetime | None = None
    changed_by: int | None = None
    # Columns, not entities: every page reads this, and four tuples cost less than four tracked objects.
    for key, value, updated_at, updated_by in read_rows(session, _SETTINGS_READ):
        if _usable(key, value):
            values[key] = value
        if changed_at is None or updated_at > changed_at:
            changed_at, changed_by = updated_at, updated_by
    return Business(name=values["business_name"], address=values["business_address"],
                    time_zone=values["time_zone"], currency=values["currency"], changed_at=changed_at,
                    changed_by=changed_by)


def effective_settings(settings: Settings, business: Business) -> Settings:
    """``settings`` with the business's saved details in place of the environment's."""
    return settings.model_copy(update={"business_name": business.name, "business_address": business.address,
                                       "time_zone": business.time_zone, "currency": business.currency})


def save_business(session: Session, settings: Settings, change: BusinessChange, *, user_id: int | None,
                  clock: Clock = utcnow) -> Business:
    """Store the details that differ from what is in force; returns the details now in force."""
    current = get_business(session, settings)
    now = clock()
    shown = {"business_name": current.name, "business_address": current.address, "time_zone": current.time_zone,
             "currency": current.currency}
    for key in KEYS:
        value = getattr(change, key)
        if value == shown[key]:
            continue
        row = session.get(BusinessSetting, key)
        if row is None:
            session.add(BusinessSetting(key=key, value=value, updated_at=now, updated_by=user_id))
        else:
            row.value, row.updated_at, row.updated_by = value, now, user_id
    session.flush()
    return get_business(session, settings)
