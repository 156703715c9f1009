"""The team page: employees by net revenue over a period, inactive ones marked, a fixed number of queries."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from signin import sign_in_as
from sqlcount import counted
from markupsafe import escape
from sqlalchemy import select

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Employee, Interaction, Order
from ravingfans.web import create_app
from ravingfans.web.formatting import format_money, format_percent

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nags about httpx vs httpx2 at import
    from fastapi.testclient import TestClient

PERIOD = {"since": "2023-01-01", "until": "2024-12-31"}
CREATED = datetime(2022, 1, 1, tzinfo=UTC)


class Cells(HTMLParser):
    """Body rows of the table with id ``team``: header cell and data cells' text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._on = self._body = False
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("id") == "team":
            self._on = True
        elif self._on and tag == "tbody":
            self._body = True
        elif self._body and tag == "tr":
            self.rows.append([])
        elif self._body and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._on = self._body = False
        elif self._body and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def team_rows(text: str) -> list[list[str]]:
    return Cells(text).rows


def staff_work(db: Database, shop: Any) -> int:
    """Orders served by Sam and by a third seller with a hostile name; Old Timer (inactive) served one."""
    with db.session(write=True) as s:
        rogue = Employee(name="<i>Rogue</i> & Co", source="test", external_id="E3", created_at=CREATED)
        gone = s.scalar(select(Employee).where(Employee.external_id == "E2"))
        s.add(rogue)
        s.flush()
        orders = s.scalars(select(Order).order_by(Order.id)).all()
        for n, order in enumerate(orders):  # the seeded shop's orders: alternate Sam and the rogue
            order.employee_id = shop.employee if n % 2 == 0 else rogue.id
        for n, (customer, days, total) in enumerate([(shop.ada, 10, "80.00"), (shop.grace, 20, "-30.00"),
                                                     (shop.linus, 30, "12.50"), (shop.ada, 400, "44.00")]):
            s.add(Order(source="test", external_id=f"T-{n}", customer_id=customer, employee_id=shop.employee,
                        placed_at=datetime(2024, 3, 1, tzinfo=UTC) + timedelta(days=days), total=Decimal(total)))
        s.add(Order(source="test", external_id="T-gone", customer_id=shop.anna, employee_id=gone.id,
                    placed_at=datetime(2023, 5, 5, tzinfo=UTC), total=Decimal("15.00")))
        for n, rating in enumerate([1, 1, -1, None, 0]):
            at = datetime(2024, 1, 10 + n, tzinfo=UTC)
            s.add(Interaction(customer_id=shop.grace, employee_id=shop.employee, occurred_at=at, channel="store",
                              kind="other", rating=rating, note="", created_at=at))
        return rogue.id


def expected(db: Database, zone: ZoneInfo) -> dict[str, dict[str, Any]]:
    """Per employee name: the page's figures counted in Python from the stored rows."""
    start = datetime(2023, 1, 1, tzinfo=zone)
    end = datetime(2025, 1, 1, tzinfo=zone)
    with db.session() as s:
        orders = s.scalars(select(Order)).all()
        moments = s.scalars(select(Interaction)).all()
        staff = s.scalars(select(Employee)).all()
    out = {}
    for e in staff:
        served = [o for o in orders if o.employee_id == e.id and o.cancelled_at is None and start <= o.placed_at < end]
        customers = {o.customer_id for o in served if o.customer_id is not None}
        came_back = sum(any(o.customer_id == c and o.cancelled_at is None
                            and min(p.placed_at for p in served if p.customer_id == c) < o.placed_at < end
                            for o in orders) for c in customers)
        rated = [m.rating for m in moments if m.employee_id == e.id and m.rating is not None
                 and start <= m.occurred_at < end]
        out[e.name] = {"orders": len(served), "customers": len(customers),
                       "revenue": sum((o.total for o in served), Decimal(0)), "came_back": came_back,
                       "moments": sum(m.employee_id == e.id and start <= m.occurred_at < end for m in moments),
                       "magic": sum(r == 1 for r in rated), "rated": len(rated), "active": e.active}
    return out


def test_team_numbers_come_from_the_orders_and_moments(client: TestClient, db: Database, shop: Any,
                                                       web_settings: Settings) -> None:
    staff_work(db, shop)
    page = client.get("/team", params=PERIOD)
    assert page.status_code == 200
    assert "From 2023-01-01 to 2024-12-31 (731 days)" in page.text
    rows = team_rows(page.text)
    want = expected(db, web_settings.zone)
    assert len(rows) == len(want) == 3
    revenues = []
    for cells in rows:
        name = next(n for n in want if cells[0].startswith(n))
        w = want[name]
        revenues.append(w["revenue"])
        assert cells[1:5] == [str(w["orders"]), str(w["customers"]), format_money(w["revenue"], "EUR"),
                              cells[4]]
        if w["customers"]:
            assert cells[4] == f"{format_percent(w['came_back'] / w['customers'])} ({w['came_back']} of {w['customers']})"
        assert cells[5] == str(w["moments"])
        if w["rated"]:
            assert cells[6].startswith(f"{format_percent(w['magic'] / w['rated'])} ({w['magic']} of {w['rated']}; 95%: ")
        else:
            assert cells[6] == "—"
        assert ("Inactive" in cells[0]) == (not w["active"])
    assert revenues == sorted(revenues, reverse=True)
    assert want["Sam Seller"]["rated"] >= 4 and want["Sam Seller"]["came_back"] >= 1  # the figures are exercised


def test_hostile_employee_names_are_text(client: TestClient, db: Database, shop: Any) -> None:
    staff_work(db, shop)
    text = client.get("/team", params=PERIOD).text
    assert "<i>Rogue</i>" not in text and str(escape("<i>Rogue</i> & Co")) in text


def test_default_period_is_the_last_365_days(client: TestClient, web_settings: Settings) -> None:
    today = datetime.now(web_settings.zone).date()
    page = client.get("/team")
    assert page.status_code == 200
    assert f"to {today.isoformat()} (365 days)" in page.text
    assert f'value="{(today - timedelta(days=364)).isoformat()}"' in page.text


@pytest.mark.parametrize(("params", "message"), [
    ({"since": "2024-05-01", "until": "2024-04-01"}, "From: 2024-05-01 is after To (2024-04-01)"),
    ({"since": "yesterday"}, "From: &#39;yesterday&#39; is not a date like 2024-05-03"),
    ({"until": "2024-02-30"}, "To: &#39;2024-02-30&#39; is not a date like 2024-05-03"),
    ({"since": "0001-01-01", "until": "2024-01-01"}, "From: a period of at most"),
    ({"since": "9999-12-31", "until": "9999-12-31"}, "To: a date before the year 9999"),
])
def test_bad_periods_get_a_clear_message(client: TestClient, params: dict[str, str], message: str) -> None:
    page = client.get("/team", params=params)
    assert page.status_code == 422
    assert message in page.text


def test_page_queries_do_not_grow_with_the_team(db: Database, web_settings: Settings, shop: Any) -> None:
    used = []
    with TestClient(create_app(web_settings, database=db)) as client:
        sign_in_as(client, db, 'owner')
        for batch in range(2):
            with db.session(write=True) as s:
                for i in range(10 * batch):
                    e = Employee(name=f"Extra {i}", source="test", external_id=f"X{i}", created_at=CREATED)
                    s.add(e)
                    s.flush()
                    s.add(Order(source="test", external_id=f"X{i}", customer_id=shop.ada, employee_id=e.id,
                                placed_at=datetime(2024, 1, 1, tzinfo=UTC), total=Decimal(i + 1)))
                    s.add(Interaction(customer_id=shop.ada, employee_id=e.id, rating=1, channel="store",
                                      kind="other", note="", occurred_at=datetime(2024, 1, 2, tzinfo=UTC),
                                      created_at=datetime(2024, 1, 2, tzinfo=UTC)))
            client.get("/team", params=PERIOD)  # warm
            with counted(db) as statements:
                page = client.get("/team", params=PERIOD)
            assert page.status_code == 200 and len(team_rows(page.text)) == 2 + 10 * batch
            used.append(len(statements))
    assert used[0] == used[1] > 0


def test_team_is_in_the_nav(client: TestClient) -> None:
    text = client.get("/customers").text
    assert '<a href="/team">Team</a>' in text and '<a href="/slipping">Slipping</a>' in text
