"""The settings page: owners change the business's name, address, zone and currency; every page shows them at once."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from ravingfans.db import Database
from ravingfans.db.models import BusinessSetting

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ClientAs = Callable[[str], TestClient]
FORM = {"business_name": "Boots & <Co>", "business_address": "1 Main St\nPortland OR", "time_zone": "America/New_York",
        "currency": "gbp"}


def stored(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(BusinessSetting)) or 0)


def test_owners_change_the_details_and_every_page_shows_them_without_a_restart(client: TestClient, shop: Any) -> None:
    page = client.get("/settings")
    assert page.status_code == 200 and 'value="Shoe &amp; Co"' in page.text and 'value="Asia/Tokyo"' in page.text
    assert '<a href="/settings">Settings</a>' in page.text
    before = client.get(f"/customers/{shop.ada}").text
    assert "2024-03-02 08:30 JST" in before and "€120.00" in before
    saved = client.post("/settings", data=FORM)
    assert saved.status_code == 303 and saved.headers["location"] == "/settings?saved=1"
    again = client.get("/settings?saved=1").text
    assert "Settings saved." in again and 'value="GBP"' in again and "1 Main St\nPortland OR</textarea>" in again
    after = client.get(f"/customers/{shop.ada}").text
    assert "Boots &amp; &lt;Co&gt;" in after and "<Co>" not in after  # the name, escaped, in the title and header
    assert "2024-03-01 18:30 EST" in after  # 23:30 UTC on 1 March, in New York
    assert "£120.00" in after and "Times shown in America/New_York · amounts in GBP" in after
    assert "£160.50" in client.get("/customers").text


def test_staff_and_managers_may_not_see_or_change_settings(client_as: ClientAs, shop: Any, db: Database) -> None:
    for role in ("staff", "manager"):
        other = client_as(role)
        assert other.get("/settings").status_code == 403
        assert other.post("/settings", data=FORM).status_code == 403
        assert '<a href="/settings">' not in other.get("/").text
    assert stored(db) == 0


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, shop: Any, db: Database) -> None:
    token = client.headers.pop("x-csrf-token")
    assert client.post("/settings", data=FORM).status_code == 403
    assert client.post("/settings", data=FORM | {"csrf_token": "forged"}).status_code == 403
    assert stored(db) == 0
    assert client.post("/settings", data=FORM | {"csrf_token": token}).status_code == 303
    assert stored(db) == 4


@pytest.mark.parametrize(("change", "field"), [
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"currency": "EURO"}, "currency"),
    ({"currency": "QQQ"}, "currency"),
    ({"business_name": ""}, "business_name"),
])
def test_bad_values_show_the_form_again_and_save_nothing(client: TestClient, shop: Any, db: Database,
                                                         change: dict[str, str], field: str) -> None:
    answer = client.post("/settings", data=FORM | change)
    assert answer.status_code == 422
    assert f'data-field="{field}"' in answer.text and f'id="{field}"' in answer.text
    assert 'aria-invalid="true"' in answer.text and "1 Main St\nPortland OR</textarea>" in answer.text
    assert stored(db) == 0
