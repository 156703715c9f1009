"""The team report: per employee orders, customers, net revenue, repeat rate and magic share (Wilson), in few queries."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlcount import counted
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm
from sqlalchemy import select

from ravingfans.clock import fixed
from ravingfans.db import Database
from ravingfans.db.models import Customer, Employee, Interaction, Order, OrderLine
from ravingfans.errors import ValidationFailed
from ravingfans.services import team

ZONE = ZoneInfo("Asia/Tokyo")
NOW = datetime(2024, 6, 3, 3, 0, tzinfo=UTC)  # already 12:00 on 3 June in Tokyo
START = datetime(2022, 6, 1, tzinfo=UTC)


def seed_team(db: Database, *, employees: int = 4, customers: int = 30, orders: int = 240, moments: int = 90,
              seed: int = 1) -> list[int]:
    """Employees (the second inactive), customers, orders over two years (some cancelled, some returns)."""
    rng = random.Random(seed)
    with db.session(write=True) as s:
        staff = [Employee(name=f"Staff {seed}-{i:02d}", role="seller" if i % 2 else None, active=i != 1,
                          source="test", external_id=f"T{seed}-{i}", created_at=START) for i in range(employees)]
        people = [Customer(first_name="Guest", last_name=f"{seed}-{i:03d}", created_at=START, updated_at=START)
                  for i in range(customers)]
        s.add_all(staff + people)
        s.flush()
        staff_ids, people_ids = [e.id for e in staff], [c.id for c in people]
        for n in range(orders):
            at = START + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
            amount = Decimal(rng.choice([-40, 25, 60, 120, 300])) + Decimal(rng.randrange(100)) / 100
            order = Order(source="test", external_id=f"O{seed}-{n}", placed_at=at, total=amount,
                          customer_id=rng.choice([*people_ids, None]),
                          employee_id=rng.choice([*staff_ids[:-1], None]),  # the last one never sells
                          cancelled_at=at if rng.random() < 0.1 else None)
            order.lines.append(OrderLine(line_no=1, kind="sale" if amount > 0 else "return", quantity=1,
                                         unit_price=amount, amount=amount))
            s.add(order)
        for n in range(moments):
            at = START + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
            s.add(Interaction(customer_id=rng.choice(people_ids), employee_id=rng.choice([*staff_ids, None]),
                              occurred_at=at, channel="store", kind="other", note=f"m{n}",
                              rating=rng.choice([1, 1, 0, -1, None]), created_at=at))
    return staff_ids


def expected_rows(db: Database, chosen: team.Period) -> dict[int, dict[str, Any]]:
    """The report's numbers, counted in Python from every stored row."""
    with db.session() as s:
        orders = list(s.scalars(select(Order)))
        moments = list(s.scalars(select(Interaction)))
        staff = list(s.scalars(select(Employee)))
    inside = lambda at: chosen.start_at <= at < chosen.end_at  # noqa: E731
    out = {}
    for e in staff:
        served = [o for o in orders if o.employee_id == e.id and o.cancelled_at is None and inside(o.placed_at)]
        firsts: dict[int, datetime] = {}
        for o in served:
            if o.customer_id is not None:
                firsts[o.customer_id] = min(firsts.get(o.customer_id, o.placed_at), o.placed_at)
        back = sum(any(o.customer_id == cid and o.cancelled_at is None and first < o.placed_at < chosen.end_at
                       for o in orders) for cid, first in firsts.items())
        logged = [m for m in moments if m.employee_id == e.id and inside(m.occurred_at)]
        rated = [m for m in logged if m.rating is not None]
        out[e.id] = {"name": e.name, "active": e.active, "orders": len(served), "customers": len(firsts),
                     "revenue": sum((o.total for o in served), Decimal("0.00")), "came_back": back,
                     "moments": len(logged), "rated": len(rated), "magic": sum(m.rating == 1 for m in rated)}
    return out


def test_default_period_is_the_last_365_days_in_the_business_zone() -> None:
    chosen = team.period(zone=ZONE, clock=fixed(NOW))
    assert (chosen.start, chosen.end, chosen.days) == (date(2023, 6, 5), date(2024, 6, 3), 365)
    assert chosen.start_at == datetime(2023, 6, 4, 15, 0, tzinfo=UTC)  # Tokyo midnight
    assert chosen.end_at == datetime(2024, 6, 3, 15, 0, tzinfo=UTC)
    assert team.period(zone=UTC, clock=fixed(NOW)).end == date(2024, 6, 3)
    late = fixed(datetime(2024, 6, 2, 20, 0, tzinfo=UTC))
    assert team.period(zone=ZONE, clock=late).end == date(2024, 6, 3)  # the next day in Tokyo already
    assert team.period(zone=UTC, clock=late).end == date(2024, 6, 2)


def test_bad_periods_are_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed, match="is after To") as info:
        team.period(date(2024, 2, 1), date(2024, 1, 1))
    assert info.value.field == "since"
    with pytest.raises(ValidationFailed, match="at most"):
        team.period(date(1900, 1, 1), date(2024, 1, 1))
    with pytest.raises(ValidationFailed, match="not a date like") as bad:
        team.parse_day("2024-13-01", "until", "To")
    assert bad.value.field == "until"
    assert team.parse_day("  ", "since", "From") is None
    assert team.parse_day("2024-02-29", "since", "From") == date(2024, 2, 29)


@pytest.mark.parametrize(("start", "end"), [(None, None), (date(2022, 6, 1), date(2024, 6, 3)),
                                            (date(2023, 1, 1), date(2023, 3, 31))])
def test_report_matches_the_rows(db: Database, start: date | None, end: date | None) -> None:
    seed_team(db)
    chosen = team.period(start, end, zone=ZONE, clock=fixed(NOW))
    with db.session() as s:
        report = team.team_report(s, chosen)
    expected = expected_rows(db, chosen)
    assert {r.employee_id for r in report.rows} == set(expected)
    assert sum(r.orders for r in report.rows) > 0
    for row in report.rows:
        want = expected[row.employee_id]
        got = {"name": row.name, "active": row.active, "orders": row.orders, "customers": row.customers,
               "revenue": row.revenue, "came_back": row.came_back, "moments": row.moments, "rated": row.rated,
               "magic": row.magic.successes}
        assert got == want, row.name
        assert row.repeat_rate == (want["came_back"] / want["customers"] if want["customers"] else None)
        assert row.magic.trials == want["rated"]
    revenues = [r.revenue for r in report.rows]
    assert revenues == sorted(revenues, reverse=True)
    assert any(not r.active for r in report.rows)
    idle = report.rows[-1] if report.rows[-1].orders == 0 else next(r for r in report.rows if r.orders == 0)
    assert (idle.revenue, idle.customers, idle.repeat_rate) == (Decimal("0.00"), 0, None)


def test_period_edges_follow_the_business_zone(db: Database) -> None:
    with db.session(write=True) as s:
        seller = Employee(name="Edge", source="test", external_id="E", created_at=START)
        buyer = Customer(first_name="Edge", last_name="Case", created_at=START, updated_at=START)
        s.add_all([seller, buyer])
        s.flush()
        # 1 Jan 2024 00:00 in Tokyo is 31 Dec 2023 15:00 UTC: the first order is in, the one before is out.
        for n, at in enumerate([datetime(2023, 12, 31, 15, 0, tzinfo=UTC), datetime(2023, 12, 31, 14, 59, tzinfo=UTC),
                                datetime(2024, 1, 31, 14, 59, tzinfo=UTC), datetime(2024, 1, 31, 15, 0, tzinfo=UTC)]):
            s.add(Order(source="test", external_id=f"E{n}", placed_at=at, total=Decimal(10 + n),
                        customer_id=buyer.id, employee_id=seller.id))
        seller_id = seller.id
    with db.session() as s:
        report = team.team_report(s, team.period(date(2024, 1, 1), date(2024, 1, 31), zone=ZONE))
    row = next(r for r in report.rows if r.employee_id == seller_id)
    # In: orders 0 and 2. Came back: order 2 is after order 0 and inside; order 3 (1 Feb in Tokyo) does not count.
    assert (row.orders, row.revenue, row.customers, row.came_back) == (2, Decimal("22.00"), 1, 1)


def test_queries_do_not_grow_with_the_team(db: Database) -> None:
    """2 and then 12 employees, each with orders, customers and moments: the same few queries."""
    chosen = team.period(zone=ZONE, clock=fixed(NOW))
    used: dict[int, list[str]] = {}
    for n, size in enumerate((2, 10)):
        seed_team(db, employees=size, customers=5, orders=60, moments=20, seed=n)
        with db.session() as s:
            s.execute(select(1))  # the session's own start (BEGIN, pragmas) is not the report's
            with counted(db) as statements:
                report = team.team_report(s, chosen)
        used[len(report.rows)] = statements
    assert sorted(used) == [2, 12]
    assert len(used[2]) == len(used[12]) == 4, used[12]


@given(st.integers(min_value=1, max_value=2000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))))
def test_wilson_interval_holds_the_estimate_inside_zero_one(case: tuple[int, int]) -> None:
    k, n = case
    share = team.wilson(k, n)
    assert share.share == k / n
    assert share.low is not None and share.high is not None
    assert 0.0 <= share.low <= share.share <= share.high <= 1.0
    # The closed form (Wilson 1927) as a cross-check of the library call.
    z = norm.ppf(0.975)
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    assert share.low == pytest.approx(max(0.0, centre - half), abs=1e-9)
    assert share.high == pytest.approx(min(1.0, centre + half), abs=1e-9)


def test_wilson_is_fair_to_small_samples() -> None:
    assert team.wilson(0, 0) == team.Share(0, 0, None, None, None)
    few, many = team.wilson(2, 2), team.wilson(45, 50)
    assert few.share == 1.0 and few.high == pytest.approx(1.0) and few.low is not None and few.low < 0.5
    assert many.low is not None and few.low < many.low  # two of two is less sure than 45 of 50
    assert team.wilson(0, 3).low == 0.0
    with pytest.raises(ValidationFailed):
        team.wilson(3, 2)
