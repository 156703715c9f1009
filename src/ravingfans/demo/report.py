"""The short report `ravingfans demo --no-serve` prints, read back from the database the demo was loaded into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, case, func, select

from ravingfans.db.models import Customer, Employee, Interaction, Order, SurveyInvitation, SurveyResponse
from ravingfans.db.types import Money
from ravingfans.demo.model import FAN, LAPSING_FAN, DemoTruth

LAPSE_FACTOR = 3.0  # silent for more than this many of their usual gaps ...
LAPSE_MIN_DAYS = 90  # ... and at least this long


@dataclass
class TopCustomer:
    """A customer among the biggest spenders."""

    key: str | None
    name: str
    purchases: int
    spend: Decimal


@dataclass
class DemoReport:
    """Headline figures of a demo database."""

    customers: int
    orders: int
    purchases: int
    return_receipts: int
    cancelled: int
    revenue: Decimal
    first_order: datetime | None
    last_order: datetime | None
    employees: int
    interactions: int
    magic_share: float | None
    lapsed: int
    top_customers: list[TopCustomer] = field(default_factory=list)
    true_lapsed: int | None = None
    true_lapsed_fans: int | None = None
    surveyed: int = 0  # invitations to any survey
    answers: int = 0
    nps: float | None = None


def summarize(engine: Engine, *, truth: DemoTruth | None = None, top: int = 5) -> DemoReport:
    """Count, sum and rank what is in the database; ``truth`` adds the simulation's own lapse count."""
    o = Order.__table__
    live = o.c.cancelled_at.is_(None)
    with engine.connect() as conn:
        customers = conn.scalar(select(func.count()).select_from(Customer.__table__)) or 0
        employees = conn.scalar(select(func.count()).select_from(Employee.__table__)) or 0
        orders, purchases, returns, cancelled = conn.execute(select(
            func.count(),
            func.coalesce(func.sum(case((live & (o.c.total > 0), 1), else_=0)), 0),
            func.coalesce(func.sum(case((live & (o.c.total < 0), 1), else_=0)), 0),
            func.coalesce(func.sum(case((live, 0), else_=1)), 0),
        )).one()
        revenue = conn.scalar(select(func.sum(o.c.total, type_=Money())).where(live)) or Decimal("0.00")
        first, last = conn.execute(select(func.min(o.c.placed_at), func.max(o.c.placed_at))).one()
        i = Interaction.__table__
        n_interactions, rated, magic = conn.execute(select(
            func.count(),
            func.coalesce(func.sum(case((i.c.rating.is_not(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((i.c.rating == 1, 1), else_=0)), 0),
        )).one()
        spend = func.sum(o.c.total, type_=Money()).label("spend")
        bought = func.sum(case((o.c.total > 0, 1), else_=0)).label("bought")
        c = Customer.__table__
        ranked = conn.execute(
            select(c.c.external_id, c.c.first_name, c.c.last_name, c.c.email, bought, spend)
            .select_from(o.join(c, o.c.customer_id == c.c.id))
            .where(live)
            .group_by(c.c.id, c.c.external_id, c.c.first_name, c.c.last_name, c.c.email)
            .order_by(spend.desc(), c.c.id)
            .limit(top)
        ).all()
        r = SurveyResponse.__table__
        surveyed = conn.scalar(select(func.count()).select_from(SurveyInvitation.__table__)) or 0
        answers, promoters, detractors = conn.execute(select(
            func.count(r.c.nps),
            func.coalesce(func.sum(case((r.c.nps >= 9, 1), else_=0)), 0),
            func.coalesce(func.sum(case((r.c.nps <= 6, 1), else_=0)), 0),
        )).one()
        rhythm = conn.execute(
            select(o.c.customer_id, func.count(), func.min(o.c.placed_at), func.max(o.c.placed_at))
            .where(live & (o.c.total > 0) & o.c.customer_id.is_not(None))
            .group_by(o.c.customer_id)
        ).all()
    lapsed = 0
    if last is not None:
        for _cid, n, first_buy, last_buy in rhythm:
            if n < 2:
                continue
            gap = (last_buy - first_buy) / (n - 1)
            if last - last_buy > max(timedelta(days=LAPSE_MIN_DAYS), gap * LAPSE_FACTOR):
                lapsed += 1
    report = DemoReport(
        customers=customers, orders=orders, purchases=int(purchases), return_receipts=int(returns),
        cancelled=int(cancelled), revenue=revenue, first_order=first, last_order=last, employees=employees,
        interactions=n_interactions, magic_share=(magic / rated) if rated else None, lapsed=lapsed,
        top_customers=[
            TopCustomer(key=key, name=" ".join(p for p in (fn, ln) if p) or email or f"#{key}",
                        purchases=int(n), spend=s)
            for key, fn, ln, email, n, s in ranked
        ],
        surveyed=surveyed, answers=int(answers),
        nps=100.0 * (int(promoters) - int(detractors)) / int(answers) if answers else None,
    )
    if truth is not None:
        report.true_lapsed = len(truth.lapsed)
        report.true_lapsed_fans = sum(1 for k in truth.lapsed if truth.segment_kind.get(k) in (FAN, LAPSING_FAN))
    return report
