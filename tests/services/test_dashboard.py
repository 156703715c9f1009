"""The Home page's numbers (SQLite and PostgreSQL): each figure against the same figure worked out in Python.

The expectations are recomputed here from the stored rows with plain loops (months bucketed with
zoneinfo in the business zone), so a wrong SQL join, filter or month boundary shows up as a mismatch.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from ravingfans.analytics.scoring import FAN_SEGMENTS
from ravingfans.clock import fixed
from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Customer, CustomerScore, Employee, Interaction, Order, OrderLine
from ravingfans.demo.generator import generate
from ravingfans.demo.load import load
from ravingfans.services import dashboard
from ravingfans.services import scoring as svc
from ravingfans.services.insights import slipping


@pytest.fixture(scope="module")
def business():
    return generate(seed=11, customers=400, years=2)


@pytest.fixture
def shop(db: Database, settings: Settings, business) -> Settings:
    load(business, db.engine)
    return settings.model_copy(update={"time_zone": business.time_zone})


def month_of(at: datetime, settings: Settings) -> date:
    """The first day of the business-zone month a moment falls in."""
    return at.astimezone(settings.zone).date().replace(day=1)


def expected_revenue(db: Database, settings: Settings, now: datetime, run_id: int | None):
    """Months -> (revenue, buyers) and segment -> (revenue, buyers) over the last 12 months, by loops."""
    with db.session() as s:
        orders = list(s.scalars(select(Order).where(Order.cancelled_at.is_(None))))
        amounts = {o.id: sum((line.amount for line in o.lines), Decimal(0)) for o in orders}
        segments = ({c: seg for c, seg in s.execute(select(CustomerScore.customer_id, CustomerScore.segment)
                                                      .where(CustomerScore.run_id == run_id))}
                    if run_id is not None else {})
    here = month_of(now, settings)
    first = here.replace(year=here.year - 1, month=here.month + 1) if here.month < 12 else here.replace(month=1)
    months: dict[date, list] = defaultdict(lambda: [Decimal(0), set()])
    by_segment: dict[str, list] = defaultdict(lambda: [Decimal(0), set()])
    for order in orders:
        month = month_of(order.placed_at, settings)
        if not first <= month <= here:
            continue
        months[month][0] += amounts[order.id]
        if order.customer_id is not None:
            months[month][1].add(order.customer_id)
        if order.lines:
            name = (dashboard.NO_CUSTOMER if order.customer_id is None
                    else segments.get(order.customer_id, dashboard.NOT_SCORED))
            by_segment[name][0] += amounts[order.id]
            if order.customer_id is not None:
                by_segment[name][1].add(order.customer_id)
    return ({m: (v[0], len(v[1])) for m, v in months.items()}, {k: (v[0], len(v[1])) for k, v in by_segment.items()},
            first)


def test_before_any_run_counts_and_trends_show_and_everyone_is_not_scored(db: Database, shop: Settings,
                                                                           business) -> None:
    now = business.now
    with db.session() as s:
        home = dashboard.home_summary(s, shop, clock=fixed(now))
        customers = len(list(s.scalars(select(Customer.id))))
    assert home.customers == customers == 400
    assert (home.run_id, home.fans, home.slipping, home.value_at_risk) == (None, None, None, None)
    assert home.slipping_top == () and home.fans_to_thank == ()
    months, segments, first = expected_revenue(db, shop, now, None)
    assert [p.month for p in home.months][0] == first and len(home.months) == dashboard.MONTHS
    assert {p.month: (p.revenue, p.active_customers) for p in home.months if p.revenue or p.active_customers} == {
        m: v for m, v in months.items() if v != (0, 0)}
    assert {r.segment: (r.revenue, r.buyers) for r in home.revenue_by_segment} == segments
    assert set(segments) <= {dashboard.NOT_SCORED, dashboard.NO_CUSTOMER} and segments


def test_after_a_run_every_figure_matches_the_stored_rows(db: Database, shop: Settings, business) -> None:
    now = business.now
    run = svc.score_database(db.engine, shop, until=business.end, clock=fixed(now))
    with db.session() as s:
        home = dashboard.home_summary(s, shop, clock=fixed(now))
        scores = list(s.scalars(select(CustomerScore).where(CustomerScore.run_id == run.run_id)))
        top = slipping(s, run_id=run.run_id, limit=dashboard.TOP_SLIPPING)[1]
        recent = {c: max(o.placed_at for o in os_) for c, os_ in _orders_by_customer(s, now - timedelta(days=7)).items()}
        names = {c.id: c.display_name for c in s.scalars(select(Customer))}
        staff = {e.id: e.name for e in s.scalars(select(Employee))}
        misery = sorted((i for i in s.scalars(select(Interaction)) if i.rating == -1
                         and i.occurred_at >= now - timedelta(days=14)), key=lambda i: (i.occurred_at, i.id),
                        reverse=True)
    assert home.run_id == run.run_id and home.run_as_of == business.end and home.scored == len(scores)
    assert home.fans == sum(1 for x in scores if x.segment in FAN_SEGMENTS) > 0
    slippers = [x for x in scores if x.slipping_rank is not None]
    assert home.slipping == len(slippers) > dashboard.TOP_SLIPPING
    assert home.value_at_risk == pytest.approx(sum(x.value_at_risk or 0 for x in slippers))
    assert list(home.slipping_top) == top and len(top) == dashboard.TOP_SLIPPING

    months, segments, _first = expected_revenue(db, shop, now, run.run_id)
    assert {r.segment: (r.revenue, r.buyers) for r in home.revenue_by_segment} == segments
    assert {p.month: (p.revenue, p.active_customers) for p in home.months if p.revenue or p.active_customers} == {
        m: v for m, v in months.items() if v != (0, 0)}
    assert sum(r.revenue for r in home.revenue_by_segment) == sum(p.revenue for p in home.months)
    shown = [r.segment for r in home.revenue_by_segment]
    assert shown.index("Champions") < shown.index("Loyal")  # the segment map's order, best first

    champions = {x.customer_id for x in scores if x.segment == dashboard.THANK_SEGMENT}
    thank = sorted(((at, c) for c, at in recent.items() if c in champions), key=lambda p: (-p[0].timestamp(), p[1]))
    assert [(f.customer_id, f.last_order_at) for f in home.fans_to_thank] == [
        (c, at) for at, c in thank[:dashboard.THANK_LIMIT]]
    assert home.fans_to_thank and all(f.name == names[f.customer_id] for f in home.fans_to_thank)
    assert [(m.interaction_id, m.name, m.employee, m.note) for m in home.misery] == [
        (i.id, names[i.customer_id], staff.get(i.employee_id), i.note) for i in misery[:dashboard.MISERY_LIMIT]]
    assert home.misery


def _orders_by_customer(s, since: datetime) -> dict[int, list[Order]]:
    found: dict[int, list[Order]] = defaultdict(list)
    for order in s.scalars(select(Order).where(Order.cancelled_at.is_(None))):
        if order.customer_id is not None and order.placed_at >= since:
            found[order.customer_id].append(order)
    return found


def _buy(s, customer: Customer | None, ext: str, at: datetime, *amounts: str, cancelled: bool = False) -> None:
    order = Order(source="t", external_id=ext, customer_id=customer.id if customer else None, placed_at=at,
                  channel="store", cancelled_at=at if cancelled else None)
    for n, amount in enumerate(amounts, start=1):
        order.lines.append(OrderLine(line_no=n, kind="sale" if Decimal(amount) >= 0 else "return",
                                     product_name="Thing", quantity=1 if Decimal(amount) >= 0 else -1,
                                     unit_price=abs(Decimal(amount)), amount=Decimal(amount)))
    order.total = sum((Decimal(a) for a in amounts), Decimal(0))
    s.add(order)


def test_months_are_the_business_zones_and_cancelled_orders_and_returns_count_right(
        db: Database, settings: Settings) -> None:
    zone = settings.model_copy(update={"time_zone": "America/Los_Angeles"})
    now = datetime(2024, 3, 15, 12, tzinfo=UTC)
    with db.session(write=True) as s:
        ada = Customer(first_name="Ada", created_at=now, updated_at=now)
        s.add(ada)
        s.flush()
        # 1 March 07:30 UTC is still 29 February in Los Angeles (PST, UTC-8); 08:30 UTC is March.
        _buy(s, ada, "feb", datetime(2024, 3, 1, 7, 30, tzinfo=UTC), "10.00", "-2.50")
        _buy(s, ada, "mar", datetime(2024, 3, 1, 8, 30, tzinfo=UTC), "20.00")
        _buy(s, ada, "gone", datetime(2024, 3, 2, tzinfo=UTC), "999.00", cancelled=True)
        _buy(s, None, "walk-in", datetime(2024, 3, 3, tzinfo=UTC), "5.00")
        _buy(s, ada, "too-old", datetime(2023, 3, 31, 12, tzinfo=UTC), "70.00")  # 31 March 2023: 12 months back
        _buy(s, ada, "in-window", datetime(2023, 4, 1, 12, tzinfo=UTC), "40.00")
    with db.session() as s:
        home = dashboard.home_summary(s, zone, clock=fixed(now))
    by_month = {p.month: (p.revenue, p.active_customers) for p in home.months}
    assert home.months[0].month == date(2023, 4, 1) and home.months[-1].month == date(2024, 3, 1)
    assert by_month[date(2024, 2, 1)] == (Decimal("7.50"), 1)
    assert by_month[date(2024, 3, 1)] == (Decimal("25.00"), 1)  # the walk-in's money, but no customer
    assert by_month[date(2023, 4, 1)] == (Decimal("40.00"), 1)
    assert sum(v for v, _n in by_month.values()) == Decimal("72.50")
    assert {r.segment: (r.revenue, r.buyers) for r in home.revenue_by_segment} == {
        dashboard.NOT_SCORED: (Decimal("67.50"), 1), dashboard.NO_CUSTOMER: (Decimal("5.00"), 0)}


def test_misery_moments_are_recent_rated_misery_newest_first_and_capped(db: Database, settings: Settings) -> None:
    now = datetime(2024, 3, 15, 12, tzinfo=UTC)
    with db.session(write=True) as s:
        sam = Employee(name="Sam", source="t", external_id="E1", created_at=now)
        bo = Customer(first_name="Bo", created_at=now, updated_at=now)
        s.add_all([sam, bo])
        s.flush()
        for n in range(dashboard.MISERY_LIMIT + 2):
            s.add(Interaction(customer_id=bo.id, employee_id=sam.id if n % 2 else None, channel="store",
                              kind="complaint", rating=-1, note=f"bad {n}", created_at=now,
                              occurred_at=now - timedelta(days=1, hours=n)))
        s.add(Interaction(customer_id=bo.id, channel="store", kind="complaint", rating=-1, note="long ago",
                          created_at=now, occurred_at=now - timedelta(days=dashboard.MISERY_DAYS, seconds=1)))
        s.add(Interaction(customer_id=bo.id, channel="store", kind="gift", rating=1, note="magic",
                          created_at=now, occurred_at=now))
    with db.session() as s:
        home = dashboard.home_summary(s, settings, clock=fixed(now))
    assert [m.note for m in home.misery] == [f"bad {n}" for n in range(dashboard.MISERY_LIMIT)]
    assert [m.employee for m in home.misery[:2]] == [None, "Sam"]
    assert home.customers == 1 and home.run_id is None
