"""The business's details: the environment's, overridden by what the settings page saved; zones and currencies checked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from ravingfans.clock import fixed
from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import BusinessSetting
from ravingfans.errors import ValidationFailed
from ravingfans.services import business

FORM = {"business_name": " Shoe & Co ", "business_address": "1 Main St\r\nSpringfield", "time_zone": "Europe/Berlin",
        "currency": "chf"}


def test_the_environment_counts_until_something_is_saved(db: Database, settings: Settings) -> None:
    with db.session() as s:
        before = business.get_business(s, settings)
    assert (before.name, before.time_zone, before.currency, before.changed_at) == ("My Business", "UTC", "USD", None)
    change = business.parse_business(FORM)
    assert (change.business_name, change.business_address, change.currency) == (
        "Shoe & Co", "1 Main St\nSpringfield", "CHF")
    with db.session(write=True) as s:
        saved = business.save_business(s, settings, change, user_id=None,
                                       clock=fixed(datetime(2024, 6, 3, tzinfo=UTC)))
    assert (saved.name, saved.address, saved.time_zone, saved.currency) == (
        "Shoe & Co", "1 Main St\nSpringfield", "Europe/Berlin", "CHF")
    assert saved.changed_at == datetime(2024, 6, 3, tzinfo=UTC)
    effective = business.effective_settings(settings, saved)
    assert (effective.business_name, effective.zone.key, effective.currency) == ("Shoe & Co", "Europe/Berlin", "CHF")
    assert effective.database_url == settings.database_url


def test_only_changed_values_are_stored(db: Database, settings: Settings) -> None:
    same = business.parse_business({"business_name": "My Business", "time_zone": "UTC", "currency": "USD"})
    with db.session(write=True) as s:
        business.save_business(s, settings, same, user_id=None)
    with db.session() as s:
        assert s.query(BusinessSetting).count() == 0


def test_a_stored_zone_this_machine_does_not_know_is_ignored(db: Database, settings: Settings) -> None:
    with db.session(write=True) as s:
        business.save_business(s, settings, business.parse_business(FORM), user_id=None)
        s.execute(update(BusinessSetting).where(BusinessSetting.key == "time_zone").values(value="Mars/Olympus"))
    with db.session() as s:
        assert business.get_business(s, settings).time_zone == "UTC"


@pytest.mark.parametrize(("change", "field"), [
    ({"business_name": "  "}, "business_name"),
    ({"business_name": "x" * 121}, "business_name"),
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"time_zone": "europe/berlin"}, "time_zone"),
    ({"currency": "EURO"}, "currency"),
    ({"currency": "XYZ"}, "currency"),
    ({"currency": "€€€"}, "currency"),
    ({"business_address": "a\x00b"}, "business_address"),
])
def test_bad_settings_name_the_field(change: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        business.parse_business(FORM | change)
    assert caught.value.field == field


def test_currency_names() -> None:
    assert business.currency_name("eur") == "Euro"
    assert business.currency_name("ABC") is None and business.currency_name("") is None
