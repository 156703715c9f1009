"""The team: each employee and what they handled over a period (orders, customers, revenue, moments of truth).

Orders count when not cancelled; revenue is the sum of their net totals (returns and refunds are
negative lines, so it is net of them). A customer *came back* when, after the first order this
employee served them in the period, they placed another order (with anyone) before the period
ended. The page reads four queries whatever the number of employees: employees, orders, customers,
moments of truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from scipy.stats import binomtest
from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import Employee, Interaction, Order
from ravingfans.errors import ValidationFailed

DEFAULT_DAYS = 365
MAX_DAYS = 366 * 20  # far beyond any shop's history; stops a typo like 0024-01-01 scanning forever
MAGIC = 1


@dataclass(frozen=True)
class Period:
    """A span of whole days in the business time zone, both ends included, and its UTC bounds."""

    start: date
    end: date
    start_at: datetime  # UTC, inclusive
    end_at: datetime  # UTC, exclusive: midnight after ``end`` in the business zone

    @property
    def days(self) -> int:
        """How many days the period covers."""
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Share:
    """A proportion with its Wilson 95% interval; None throughout when nothing was counted."""

    successes: int
    trials: int
    share: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class TeamRow:
    """One employee and what they handled over the period."""

    employee_id: int
    name: str
    role: str | None
    active: bool
    orders: int
    customers: int
    revenue: Decimal
    came_back: int  # customers served who bought again later in the period
    repeat_rate: float | None  # came_back / customers; None without customers
    moments: int  # moments of truth logged
    rated: int  # of which rated magic, mediocre or misery
    magic: Share  # magic among the rated moments


@dataclass(frozen=True)
class TeamReport:
    """The team over a period, highest revenue first."""

    period: Period
    rows: list[TeamRow]


def period(start: date | None = None, end: date | None = None, *, zone: tzinfo = UTC,
           clock: Clock = utcnow) -> Period:
    """The period from ``start`` to ``end`` (days in ``zone``); by default the last 365 days up to today."""
    today = clock().astimezone(zone).date()
    end = end if end is not None else today
    start = start if start is not None else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed(f"From: {start.isoformat()} is after To ({end.isoformat()})", field="since",
                               hint="Pick a start on or before the end.")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed(f"From: a period of at most {MAX_DAYS} days, please", field="since")
    try:
        start_at = datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC)
        end_at = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    except OverflowError:
        raise ValidationFailed("To: a date before the year 9999, please", field="until") from None
    return Period(start=start, end=end, start_at=start_at, end_at=end_at)


def parse_day(value: str, field: str, label: str) -> date | None:
    """A form's YYYY-MM-DD day, None when blank; ValidationFailed naming ``field`` otherwise."""
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{label}: {text[:20]!r} is not a date like 2024-05-03", field=field) from None


def wilson(successes: int, trials: int, confidence: float = 0.95) -> Share:
    """``successes / trials`` with its Wilson score interval (Wilson 1927, JASA 22(158)).

    Wilson rather than the textbook Wald interval: with the handful of rated moments one employee
    logs, Wald collapses to a zero-width interval at 0% or 100% and covers badly, so a new hire with
    two magic moments would look better than a veteran with 45 of 50. Brown, Cai & DasGupta (2001,
    Statistical Science 16(2)) recommend Wilson for small n. scipy computes it, so we do not.
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValidationFailed(f"successes must be between 0 and trials ({trials}), got {successes}")
    if trials == 0:
        return Share(successes, trials, None, None, None)
    ci = binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    share = successes / trials
    # Clip rounding noise (the bounds are exactly 0 or 1 at the edges in exact arithmetic).
    low, high = max(0.0, min(float(ci.low), share)), min(1.0, max(float(ci.high), share))
    return Share(successes, trials, share, low, high)


def team_report(session: Session, chosen: Period) -> TeamReport:
    """Every employee (inactive ones too) with what they handled in ``chosen``, highest revenue first."""
    in_period = and_(Order.placed_at >= chosen.start_at, Order.placed_at < chosen.end_at)
    served = and_(in_period, Order.employee_id.is_not(None), Order.cancelled_at.is_(None))

    employees = session.execute(
        select(Employee.id, Employee.name, Employee.role, Employee.active)).all()

    orders = {row.employee_id: row for row in session.execute(
        select(Order.employee_id, func.count(Order.id).label("orders"), func.sum(Order.total).label("revenue"))
        .where(served).group_by(Order.employee_id))}

    pairs = (select(Order.employee_id, Order.customer_id, func.min(Order.placed_at).label("first_at"))
             .where(served, Order.customer_id.is_not(None))
             .group_by(Order.employee_id, Order.customer_id).subquery())
    later = aliased(Order)
    again = exists().where(later.customer_id == pairs.c.customer_id, later.cancelled_at.is_(None),
                           later.placed_at > pairs.c.first_at, later.placed_at < chosen.end_at)
    customers = {row.employee_id: row for row in session.execute(
        select(pairs.c.employee_id, func.count().label("customers"),
               func.sum(case((again, 1), else_=0)).label("came_back"))
        .group_by(pairs.c.employee_id))}

    moments = {row.employee_id: row for row in session.execute(
        select(Interaction.employee_id, func.count(Interaction.id).label("moments"),
               func.count(Interaction.rating).label("rated"),
               func.sum(case((Interaction.rating == MAGIC, 1), else_=0)).label("magic"))
        .where(Interaction.employee_id.is_not(None), Interaction.occurred_at >= chosen.start_at,
               Interaction.occurred_at < chosen.end_at)
        .group_by(Interaction.employee_id))}

    rows = []
    for employee_id, name, role, active in employees:
        o, c, m = orders.get(employee_id), customers.get(employee_id), moments.get(employee_id)
        served_customers = int(c.customers) if c else 0
        came_back = int(c.came_back or 0) if c else 0
        rated = int(m.rated) if m else 0
        rows.append(TeamRow(
            employee_id=employee_id, name=name, role=role, active=bool(active),
            orders=int(o.orders) if o else 0,
            customers=served_customers,
            revenue=o.revenue if o and o.revenue is not None else Decimal("0.00"),
            came_back=came_back,
            repeat_rate=came_back / served_customers if served_customers else None,
            moments=int(m.moments) if m else 0,
            rated=rated,
            magic=wilson(int(m.magic or 0) if m else 0, rated),
        ))
    rows.sort(key=lambda r: (-r.revenue, r.name.lower(), r.employee_id))
    return TeamReport(period=chosen, rows=rows)
