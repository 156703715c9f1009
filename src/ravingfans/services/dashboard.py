"""The Home page's numbers: counts, value at risk, revenue by segment, the monthly trend and today's work.

Today's work includes the follow-ups due (tasks from the follow-up rules, :mod:`ravingfans.services.tasks`).

Every figure comes from a fixed number of aggregate queries (no query per customer, order or month),
so the page costs the same on a shop of ten customers and one of a million. Months are calendar months
in the business's time zone: their boundaries are computed here in Python (zoneinfo, so daylight-saving
shifts fall where the clock on the wall puts them) and sent to the database as UTC instants, so SQLite
and PostgreSQL bucket identically without either's date functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session

from ravingfans.analytics.rfm import DEFAULT_SEGMENTS
from ravingfans.analytics.scoring import FAN_SEGMENTS
from ravingfans.clock import Clock
from ravingfans.config import Settings
from ravingfans.db.models import Customer, CustomerScore, Employee, Interaction, Order, OrderLine, ScoreRun
from ravingfans.services.insights import SlippingRow, slipping
from ravingfans.services.runs import latest_run
from ravingfans.services.tasks import TaskRow, count_due, quiet_hour_queue

MONTHS = 12
TOP_SLIPPING = 5
THANK_DAYS = 7
THANK_LIMIT = 5
THANK_SEGMENT = "Champions"
MISERY_DAYS = 14
MISERY_LIMIT = 10
MISERY = -1  # Interaction.rating of a misery moment
FOLLOW_UPS_SHOWN = 5
NOT_SCORED = "Not scored"
NO_CUSTOMER = "No customer on record"
_SEGMENT_ORDER = {name: i for i, (name, _r, _fm) in enumerate(DEFAULT_SEGMENTS)}


@dataclass(frozen=True)
class SegmentRevenue:
    """Net revenue of the last twelve months from one segment of the current run, and how many of it bought."""

    segment: str
    revenue: Decimal
    buyers: int


@dataclass(frozen=True)
class MonthPoint:
    """One calendar month (in the business zone): net revenue and how many customers bought."""

    month: date  # the first day of the month
    revenue: Decimal
    active_customers: int


@dataclass(frozen=True)
class FanToThank:
    """A Champion who bought in the last week: say thank you while it is fresh."""

    customer_id: int
    name: str
    last_order_at: datetime
    orders: int  # in the last week
    clv: float | None


@dataclass(frozen=True)
class MiseryMoment:
    """A recent moment of truth rated misery: someone should make it right."""

    interaction_id: int
    customer_id: int
    name: str
    occurred_at: datetime
    employee: str | None
    channel: str
    kind: str
    note: str


@dataclass(frozen=True)
class HomeSummary:
    """Everything the Home page shows, as of ``now``; run-based figures are None before the first scoring run."""

    now: datetime
    customers: int
    run_id: int | None
    run_as_of: date | None
    scored: int | None
    fans: int | None
    slipping: int | None
    value_at_risk: float | None
    revenue_since: datetime  # the start of the first month of the trend (business zone)
    revenue_by_segment: tuple[SegmentRevenue, ...]
    months: tuple[MonthPoint, ...]
    slipping_top: tuple[SlippingRow, ...]
    fans_to_thank: tuple[FanToThank, ...]
    misery: tuple[MiseryMoment, ...]
    follow_ups_due: int = 0  # open tasks due by today (services/tasks.py)
    follow_ups: tuple[TaskRow, ...] = ()  # the first of them, as the quiet-hour queue deals them


def month_starts(now: datetime, settings: Settings, months: int = MONTHS) -> list[datetime]:
    """The first instants of the last ``months`` calendar months (this one included) and of the next, in the business zone."""
    local = now.astimezone(settings.zone)
    index = local.year * 12 + local.month - 1 - (months - 1)
    starts = []
    for n in range(index, index + months + 1):
        starts.append(datetime(n // 12, n % 12 + 1, 1, tzinfo=settings.zone))
    return starts


def home_summary(session: Session, settings: Settings, *, clock: Clock) -> HomeSummary:
    """The Home page's counts, trends and today's work, from the current scoring run and the ledger."""
    now = clock()
    starts = month_starts(now, settings)
    customers = int(session.scalar(select(func.count()).select_from(Customer).where(Customer.erased_at.is_(None)))
                    or 0)
    run = latest_run(session)
    scored = fans = slipping_count = None
    at_risk: float | None = None
    slipping_top: list[SlippingRow] = []
    thank: list[FanToThank] = []
    if run is not None:
        scored, fans, slipping_count, at_risk = _run_counts(session, run)
        _run, slipping_top = slipping(session, run_id=run.id, limit=TOP_SLIPPING)
        thank = _fans_to_thank(session, run, now - timedelta(days=THANK_DAYS))
    today = now.astimezone(settings.zone).date()
    return HomeSummary(
        now=now, customers=customers, run_id=run.id if run else None, run_as_of=run.observation_end if run else None,
        scored=scored, fans=fans, slipping=slipping_count, value_at_risk=at_risk, revenue_since=starts[0],
        revenue_by_segment=tuple(_revenue_by_segment(session, run, starts[0], starts[-1])),
        months=tuple(_months(session, starts)), slipping_top=tuple(slipping_top), fans_to_thank=tuple(thank),
        misery=tuple(_misery(session, now - timedelta(days=MISERY_DAYS))),
        follow_ups_due=count_due(session, today=today),
        follow_ups=tuple(quiet_hour_queue(session, today=today, limit=FOLLOW_UPS_SHOWN)),
    )


def _run_counts(session: Session, run: ScoreRun) -> tuple[int, int, int, float]:
    """Customers scored, fans, slipping fans and their total value at risk in a run: one query."""
    row = session.execute(select(
        func.count(),
        func.count(case((CustomerScore.segment.in_(FAN_SEGMENTS), CustomerScore.id))),
        func.count(CustomerScore.slipping_rank),
        func.coalesce(func.sum(CustomerScore.value_at_risk), 0.0),
    ).where(CustomerScore.run_id == run.id)).one()
    return int(row[0]), int(row[1]), int(row[2]), float(row[3])


def _sold(since: datetime, until: datetime) -> list[object]:
    """The filter for money taken: non-cancelled orders placed in [since, until)."""
    return [Order.cancelled_at.is_(None), Order.placed_at >= since, Order.placed_at < until]


def _revenue_by_segment(session: Session, run: ScoreRun | None, since: datetime,
                        until: datetime) -> list[SegmentRevenue]:
    """Net line amounts of non-cancelled orders in [since, until) by the buyer's segment in ``run``."""
    anonymous = Order.customer_id.is_(None)
    if run is None:
        stmt = (select(anonymous, func.sum(OrderLine.amount), func.count(distinct(Order.customer_id)))
                .select_from(OrderLine).join(Order, Order.id == OrderLine.order_id)
                .where(*_sold(since, until)).group_by(anonymous))
        rows = [(None, anon, total, buyers) for anon, total, buyers in session.execute(stmt)]
    else:
        stmt = (select(CustomerScore.segment, anonymous, func.sum(OrderLine.amount),
                       func.count(distinct(Order.customer_id)))
                .select_from(OrderLine).join(Order, Order.id == OrderLine.order_id)
                .outerjoin(CustomerScore, and_(CustomerScore.customer_id == Order.customer_id,
                                               CustomerScore.run_id == run.id))
                .where(*_sold(since, until)).group_by(CustomerScore.segment, anonymous))
        rows = [tuple(r) for r in session.execute(stmt)]
    found = [SegmentRevenue(segment=NO_CUSTOMER if anon else segment or NOT_SCORED,
                            revenue=Decimal(total or 0), buyers=int(buyers))
             for segment, anon, total, buyers in rows]
    last = len(_SEGMENT_ORDER)
    rank = {NOT_SCORED: last, NO_CUSTOMER: last + 1}
    return sorted(found, key=lambda r: (rank.get(r.segment, _SEGMENT_ORDER.get(r.segment, last - 1)), r.segment))


def _months(session: Session, starts: list[datetime]) -> list[MonthPoint]:
    """Net revenue and distinct buying customers per month between consecutive ``starts``: one query."""
    # Bucket = index of the month an order falls in; newest boundary first so the first true WHEN wins.
    bucket = case(*[(Order.placed_at >= start, n) for n, start in reversed(list(enumerate(starts[:-1])))])
    orders = (select(bucket.label("bucket"), Order.customer_id, OrderLine.amount)
              .select_from(Order).outerjoin(OrderLine, OrderLine.order_id == Order.id)
              .where(*_sold(starts[0], starts[-1])).subquery())
    # Grouping on the subquery's column, not the CASE itself: PostgreSQL would see the CASE's bound
    # parameters in GROUP BY as a different expression from those in the select list.
    stmt = (select(orders.c.bucket, func.sum(orders.c.amount), func.count(distinct(orders.c.customer_id)))
            .group_by(orders.c.bucket))
    found = {int(n): (Decimal(total or 0), int(buyers)) for n, total, buyers in session.execute(stmt)}
    return [MonthPoint(month=start.date(), revenue=found.get(n, (Decimal(0), 0))[0],
                       active_customers=found.get(n, (Decimal(0), 0))[1])
            for n, start in enumerate(starts[:-1])]


def _fans_to_thank(session: Session, run: ScoreRun, since: datetime) -> list[FanToThank]:
    """Champions of ``run`` with a non-cancelled order since ``since``, latest buyer first."""
    recent = (select(Order.customer_id, func.max(Order.placed_at).label("last_at"), func.count().label("orders"))
              .where(Order.customer_id.is_not(None), Order.cancelled_at.is_(None), Order.placed_at >= since)
              .group_by(Order.customer_id).subquery())
    stmt = (select(Customer, recent.c.last_at, recent.c.orders, CustomerScore.clv)
            .join(recent, recent.c.customer_id == Customer.id)
            .join(CustomerScore, and_(CustomerScore.customer_id == Customer.id, CustomerScore.run_id == run.id))
            .where(CustomerScore.segment == THANK_SEGMENT)
            .order_by(recent.c.last_at.desc(), Customer.id).limit(THANK_LIMIT))
    return [FanToThank(customer_id=c.id, name=c.display_name, last_order_at=last_at, orders=int(n), clv=clv)
            for c, last_at, n, clv in session.execute(stmt)]


def _misery(session: Session, since: datetime) -> list[MiseryMoment]:
    """Moments of truth rated misery since ``since``, newest first, with who served."""
    stmt = (select(Interaction, Customer, Employee.name)
            .join(Customer, Customer.id == Interaction.customer_id)
            .outerjoin(Employee, Employee.id == Interaction.employee_id)
            .where(Interaction.rating == MISERY, Interaction.occurred_at >= since, Customer.erased_at.is_(None))
            .order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(MISERY_LIMIT))
    return [MiseryMoment(interaction_id=i.id, customer_id=c.id, name=c.display_name, occurred_at=i.occurred_at,
                         employee=employee, channel=i.channel, kind=i.kind, note=i.note)
            for i, c, employee in session.execute(stmt)]
