"""Follow-up rules: the standard rules a business switches on and tunes, and the pass that turns them into tasks.

Six rules, each a row of ``follow_up_rules`` with its tuning in ``params``:

- ``courtesy_call``: a call N days after a purchase ("how are the shoes holding up?"), optionally only for
  orders of at least an amount or with a line in a category;
- ``thank_fans``: a thank-you after a fan's k-th purchase (fans: the fan segments of the latest scoring run);
- ``win_back``: a contact for each slipping fan of the latest scoring run;
- ``birthday`` and ``anniversary`` (of the first purchase): a note N days before the day;
- ``misery_call``: a call the day after a moment of truth rated misery.

:func:`evaluate_rules` is set-based, so one pass costs seconds on a million customers: per rule, ONE query
selects the candidates inside a window of days bounded by the rule's last evaluation (at most
:data:`CATCH_UP_DAYS` back), reading the owner (who served the customer's latest order) and the priority
(their value in the latest scoring run) in the same query; the tasks then go in with
``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` a thousand rows a statement, in key order. Every task has
a key naming its rule, customer and occasion (``courtesy_call:42:order:981``, ``birthday:42:2026``), so a rule
evaluated twice, or by two workers at once, never creates the same task twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from time import perf_counter
from typing import Any

from sqlalchemy import BigInteger, Select, case, exists, extract, func, null, select, type_coerce
from sqlalchemy.orm import Session

from ravingfans.analytics.scoring import FAN_SEGMENTS
from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db.models import (
    Customer,
    CustomerScore,
    Employee,
    FollowUpRule,
    Interaction,
    Order,
    OrderLine,
    Product,
    ProductVariant,
    ScoreRun,
)
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services.business import effective_settings, get_business
from ravingfans.services.runs import latest_run
from ravingfans.services.tasks import insert_tasks, served_by, upsert_ignore

CATCH_UP_DAYS = 7  # a rule that has not run for a while (or runs for the first time) looks this many days back
THANK_LOOKBACK_DAYS = 7  # a k-th purchase counts this long, so a scoring run after it can still make them a fan
MISERY_OVERLAP = timedelta(days=1)  # moments logged just before the last pass but committed after it
MISERY = -1
SQLITE_CACHE_KIB = 128 * 1024  # SQLite's page cache during a pass (its default is 2 MiB)
DAILY = frozenset({"courtesy_call", "thank_fans", "birthday", "anniversary"})  # rules of whole days: once a day
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩", "ILS": "₪", "CAD": "CA$",
           "AUD": "A$", "NZD": "NZ$", "HKD": "HK$", "MXN": "MX$", "BRL": "R$", "CNY": "CN¥"}


# --- the standard rules and their tuning -------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One tunable value of a rule: ``kind`` is ``days`` (a whole number), ``money`` or ``text`` (blank = any)."""

    name: str
    kind: str
    label: str
    help: str
    default: Any
    low: int = 0
    high: int = 365


@dataclass(frozen=True)
class RuleSpec:
    """A standard rule: its name, what it does in words, the kind of task it makes and its parameters."""

    name: str
    title: str
    description: str
    task_kind: str
    params: tuple[Param, ...]

    @property
    def defaults(self) -> dict[str, Any]:
        """The parameters' default values."""
        return {p.name: p.default for p in self.params}


RULES: dict[str, RuleSpec] = {spec.name: spec for spec in (
    RuleSpec("courtesy_call", "Courtesy call after a purchase",
             "A call some days after a purchase to ask how it is holding up; nothing to sell.", "call",
             (Param("days", "days", "Days after the purchase", "When the call is due.", 14, 1, 365),
              Param("min_amount", "money", "Only orders of at least", "Blank: every order.", None),
              Param("category", "text", "Only orders with a line in the category", "Blank: any category.",
                    None))),
    RuleSpec("thank_fans", "Thank a fan after a purchase",
             "A thank-you to a fan (Champions and Loyal in the latest scoring run) after their k-th purchase.",
             "thank", (Param("purchases", "days", "After purchase number", "The purchase that earns the thanks.",
                             3, 1, 1000),)),
    RuleSpec("win_back", "Win back a slipping fan",
             "A personal contact for each slipping fan of the latest scoring run, once per lapse.", "win_back",
             (Param("min_value_at_risk", "money", "Only when the value at risk is at least",
                    "Blank: every slipping fan.", None),)),
    RuleSpec("birthday", "Birthday note", "A note to send some days before the customer's birthday.", "note",
             (Param("days_before", "days", "Days before the birthday", "When the note is due.", 7, 0, 60),)),
    RuleSpec("anniversary", "Anniversary of the first purchase",
             "A note some days before the anniversary of the customer's first purchase.", "note",
             (Param("days_before", "days", "Days before the anniversary", "When the note is due.", 7, 0, 60),)),
    RuleSpec("misery_call", "Call after a misery moment",
             "A call to make it right after any moment of truth rated misery.", "call",
             (Param("days_after", "days", "Days after the moment", "When the call is due.", 1, 0, 30),)),
)}


@dataclass(frozen=True)
class RuleInfo:
    """A rule as the business has it: switched on or off, its parameters (defaults filled in), when last run."""

    spec: RuleSpec
    enabled: bool
    params: dict[str, Any]
    updated_at: datetime | None
    last_evaluated_at: datetime | None

    @property
    def name(self) -> str:
        """The rule's name."""
        return self.spec.name

    def describe_params(self, currency: str = "USD") -> str:
        """The parameters in words: ``days=14, min_amount=any, category=any``."""
        return ", ".join(f"{p.name}={_shown(self.params.get(p.name), p, currency)}" for p in self.spec.params)


def _shown(value: Any, param: Param, currency: str) -> str:
    if value is None or value == "":
        return "any"
    if param.kind == "money":
        return f"{value} {currency}"
    return str(value)


def require_spec(name: str) -> RuleSpec:
    """The standard rule of this name, or a message listing the names."""
    spec = RULES.get(name)
    if spec is None:
        raise NotFound(f"There is no follow-up rule {name!r}; the rules are: {', '.join(RULES)}.",
                       hint="List them with: ravingfans rules list")
    return spec


def _info(spec: RuleSpec, row: FollowUpRule | None) -> RuleInfo:
    stored = dict(row.params or {}) if row is not None else {}
    params = {p.name: stored.get(p.name, p.default) for p in spec.params}
    return RuleInfo(spec=spec, enabled=bool(row.enabled) if row is not None else False, params=params,
                    updated_at=row.updated_at if row is not None else None,
                    last_evaluated_at=row.last_evaluated_at if row is not None else None)


def list_rules(session: Session) -> list[RuleInfo]:
    """Every standard rule, switched on or off, in a fixed order (rules never stored show as off, with defaults)."""
    rows = {row.name: row for row in session.scalars(select(FollowUpRule))}
    return [_info(spec, rows.get(name)) for name, spec in RULES.items()]


def get_rule(session: Session, name: str) -> RuleInfo:
    """One rule; NotFound (listing the names) for an unknown one."""
    spec = require_spec(name)
    return _info(spec, session.get(FollowUpRule, name))


def parse_params(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate tuning typed on a page or the command line (strings welcome); the values to store, by name."""
    spec = require_spec(name)
    known = {p.name: p for p in spec.params}
    parsed: dict[str, Any] = {}
    for key, raw in values.items():
        param = known.get(key)
        if param is None:
            raise ValidationFailed(f"{name} has no setting {key!r}; it has: {', '.join(known)}.", field=key)
        parsed[key] = _parse_value(param, raw)
    return parsed


def _parse_value(param: Param, raw: Any) -> Any:
    text = "" if raw is None else str(raw).strip()
    if param.kind == "days":
        if not text.isascii() or not text.isdigit() or not param.low <= int(text) <= param.high:
            raise ValidationFailed(f"{param.label}: write a whole number from {param.low} to {param.high}.",
                                   field=param.name)
        return int(text)
    if text.lower() in ("", "any", "none"):
        return None
    if param.kind == "money":
        try:
            amount = Decimal(text)
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0 or amount > Decimal("1000000000"):
            raise ValidationFailed(f"{param.label}: write an amount such as 50 or 49.90 (or leave it blank).",
                                   field=param.name)
        return str(amount.quantize(Decimal("0.01")))
    if len(text) > 120 or any(ord(ch) < 32 for ch in text):
        raise ValidationFailed(f"{param.label}: a category name of at most 120 characters, on one line.",
                               field=param.name)
    return text


def update_rule(session: Session, name: str, *, enabled: bool | None = None, params: Mapping[str, Any] | None = None,
                clock: Clock = utcnow) -> RuleInfo:
    """Switch a rule on or off and/or change its tuning (validated, see :func:`parse_params`); stored at once."""
    spec = require_spec(name)
    changes = parse_params(name, params or {})
    row = session.get(FollowUpRule, name, with_for_update=True)
    if row is None:
        row = FollowUpRule(name=name, enabled=False, params=spec.defaults, updated_at=clock())
        session.add(row)
    if enabled is not None:
        row.enabled = enabled
    if changes:
        row.params = {**spec.defaults, **(row.params or {}), **changes}
    row.updated_at = clock()
    session.flush()
    return _info(spec, row)


def ensure_rules(session: Session, *, enable_standard: bool = False, clock: Clock = utcnow) -> None:
    """Store every standard rule not yet stored, with its default tuning; ``enable_standard`` switches them all on."""
    now = clock()
    rows = [{"name": name, "enabled": enable_standard, "params": spec.defaults, "updated_at": now,
             "last_evaluated_at": None} for name, spec in RULES.items()]
    upsert_ignore(session, FollowUpRule.__table__, rows, "name")
    if enable_standard:
        for row in session.scalars(select(FollowUpRule).where(FollowUpRule.name.in_(list(RULES)))):
            if not row.enabled:
                row.enabled, row.updated_at = True, now
    session.flush()


# --- evaluation ---------------------------------------------------------------------------------------------------


@dataclass
class RulesReport:
    """What one pass created, rule by rule; switched-on rules that did not run say why in ``skipped``."""

    today: date
    created: dict[str, int] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    off: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # each rule's time: query, wording and inserts

    @property
    def total(self) -> int:
        """Tasks created in all."""
        return sum(self.created.values())

    def summary(self) -> str:
        """One line a person reads: how many new tasks, by rule, and which rules did not run."""
        parts = [f"{name} {n}" for name, n in self.created.items()]
        text = f"Follow-up rules on {self.today.isoformat()}: {self.total} new task{'s' if self.total != 1 else ''}"
        text += f" ({', '.join(parts)})" if parts else ""
        if self.skipped:
            text += "; not run: " + ", ".join(f"{name} ({why})" for name, why in self.skipped.items())
        if self.off:
            text += "; switched off: " + ", ".join(self.off)
        return text + "."


@dataclass(frozen=True)
class _Pass:
    """What every rule of one pass shares: the clock, the calendar, the current run, how to write money."""

    session: Session
    settings: Settings
    now: datetime
    today: date
    run: ScoreRun | None
    symbol: str

    def since_day(self, last: datetime | None) -> date:
        """The first due day to look at: the last pass's day (looked at again), at most CATCH_UP_DAYS back."""
        floor = self.today - timedelta(days=CATCH_UP_DAYS)
        if last is None:
            return floor
        return min(self.today, max(floor, last.astimezone(self.settings.zone).date()))

    def day_start(self, day: date) -> datetime:
        """Midnight starting ``day`` in the business zone, as a UTC instant."""
        return datetime.combine(day, time.min, tzinfo=self.settings.zone).astimezone(UTC)

    def local_day(self, moment: datetime) -> date:
        """The business-calendar day of an instant."""
        return moment.astimezone(self.settings.zone).date()

    def day_of(self, column: Any, first: date, last: date) -> Any:
        """SQL: how many days after ``first`` the instant in ``column`` falls, in the business zone (``first`` to
        ``last``; NULL outside): the database buckets the days, so no time is read back and converted per row."""
        bounds = [(self.day_start(day + timedelta(days=1)), n) for n, day in enumerate(_days(first, last))]
        return case(*[(column < bound, n) for bound, n in bounds], else_=None)

    def money(self, cents: int | None) -> str:
        """An amount in cents as ``$129`` or ``$129.50``."""
        value = cents or 0
        return f"{self.symbol}{value // 100:,}" if value % 100 == 0 else f"{self.symbol}{value / 100:,.2f}"

    def day(self, d: date) -> str:
        """``12 Nov`` (with the year when it is not this year's)."""
        month = MONTHS[d.month - 1]
        return f"{d.day} {month}" if d.year == self.today.year else f"{d.day} {month} {d.year}"

    def value(self, clv: float | None) -> int:
        """A customer's value as a task priority, in cents: their CLV, 0 when unscored."""
        if clv is None or not math.isfinite(clv) or clv < 0:
            return 0
        return round(clv * 100)

    def task(self, rule: str, customer_id: int, occasion: str, **values: Any) -> dict[str, Any]:
        """A row for the tasks table."""
        return {"dedupe_key": f"{rule}:{customer_id}:{occasion}", "customer_id": customer_id, "rule": rule,
                "kind": RULES[rule].task_kind, **values}


def evaluate_rules(session: Session, settings: Settings, *, clock: Clock = utcnow,
                   only: str | None = None) -> RulesReport:
    """Run every switched-on rule (or ``only`` that one) once and store the tasks they find; safe to repeat."""
    if only is not None:
        require_spec(only)
    shown = effective_settings(settings, get_business(session, settings))
    now = clock()
    today = now.astimezone(shown.zone).date()
    report = RulesReport(today=today)
    # Locked (PostgreSQL): a second pass at the same moment waits, then finds the tasks already there.
    rows = {row.name: row for row in session.scalars(
        select(FollowUpRule).order_by(FollowUpRule.name).with_for_update())}
    if only is not None and not (rows.get(only) and rows[only].enabled):
        raise ValidationFailed(f"The rule {only} is switched off, so it was not run.", field="only",
                               hint=f"Switch it on first: ravingfans rules enable {only} (or on the Rules page).")
    ctx = _Pass(session=session, settings=shown, now=now, today=today, run=latest_run(session),
                symbol=_symbol(shown.currency))
    with _tuned(session):
        for name in RULES:
            _run_rule(ctx, report, name, rows.get(name), only)
    session.flush()
    return report


@contextmanager
def _tuned(session: Session) -> Iterator[None]:
    """The connection set for a pass: PostgreSQL without JIT, SQLite with a page cache that holds the indexes.

    Each query is thousands of index look-ups: compiling it (JIT) costs more than it saves, and SQLite's
    default 2 MiB cache would read the same index pages from the file again and again.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL jit = off")
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


def _run_rule(ctx: _Pass, report: RulesReport, name: str, row: FollowUpRule | None, only: str | None) -> None:
    """Evaluate one rule into ``report`` (unless it is off, or has nothing new to look at)."""
    if only is not None and name != only:
        return
    if row is None or not row.enabled:
        report.off.append(name)
        return
    if _ran_today(ctx, name, row):
        report.skipped[name] = "already run today"
        return
    started = perf_counter()
    found = _EVALUATORS[name](ctx, _info(RULES[name], row), row)
    if found is None:
        report.skipped[name] = "no scoring run yet" if ctx.run is None else "nothing new since the last pass"
    else:
        report.candidates[name] = len(found)
        report.created[name] = insert_tasks(ctx.session, found, now=ctx.now)
    row.last_evaluated_at = ctx.now
    report.seconds[name] = perf_counter() - started


def _ran_today(ctx: _Pass, name: str, row: FollowUpRule) -> bool:
    """Whether a rule of whole days already ran today with these settings (and, for fans, this scoring run).

    Its occasions are days that have passed, so running it again the same day finds nothing new; tomorrow's
    pass looks at today again, so an order or a birthday typed in late is not missed.
    """
    last = row.last_evaluated_at
    if name not in DAILY or last is None or last > ctx.now or ctx.local_day(last) != ctx.today:
        return False
    if row.updated_at is not None and row.updated_at > last:
        return False
    return not (name == "thank_fans" and ctx.run is not None and ctx.run.created_at > last)


def _symbol(currency: str) -> str:
    """The currency's sign before an amount (``$``), else its code and a space (``CHF ``)."""
    return SYMBOLS.get(currency.upper(), f"{currency.upper()} ")


def _one_per_day(rows: Iterable[dict[str, Any]], rank: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
    """At most one task per customer and due day (the best by ``rank``): two purchases, one call."""
    best: dict[tuple[int, date], dict[str, Any]] = {}
    for row in rows:
        key = (row["customer_id"], row["due_on"])
        if key not in best or rank(row) > rank(best[key]):
            best[key] = row
    return list(best.values())


def _value_of(customer: Any, run: ScoreRun | None) -> Any:
    """The customer's CLV in ``run`` (a correlated scalar; NULL without a run)."""
    if run is None:
        return null()
    return (select(CustomerScore.clv).where(CustomerScore.customer_id == customer, CustomerScore.run_id == run.id)
            .limit(1).scalar_subquery())


def _cents(money: Any) -> Any:
    """A Money column read as its stored integer of cents (no Decimal made per row)."""
    return type_coerce(money, BigInteger)


def _live(customer_id: Any) -> Any:
    """The customer exists and is not erased (merged-away customers no longer exist)."""
    return exists().where(Customer.id == customer_id, Customer.erased_at.is_(None))


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _courtesy_call(ctx: _Pass, rule: RuleInfo, row: FollowUpRule) -> list[dict[str, Any]]:
    days = int(rule.params["days"])
    first = ctx.since_day(row.last_evaluated_at) - timedelta(days=days)
    last = ctx.today - timedelta(days=days)
    order = Order.__table__.alias("o")
    line = OrderLine.__table__.alias("l")
    category = rule.params.get("category")
    in_category: Any = None
    if category:
        variant, product = ProductVariant.__table__, Product.__table__
        in_category = exists().where(variant.c.id == line.c.variant_id, product.c.id == variant.c.product_id,
                                     func.lower(product.c.category) == category.lower())
    top = select(func.coalesce(line.c.product_name, line.c.sku)).where(line.c.order_id == order.c.id,
                                                                        line.c.kind == "sale")
    sold = select(func.count()).where(line.c.order_id == order.c.id, line.c.kind == "sale")
    if in_category is not None:
        top, sold = top.where(in_category), sold.where(in_category)
    minimum = rule.params.get("min_amount")
    stmt: Select[Any] = select(
        order.c.id, order.c.customer_id, ctx.day_of(order.c.placed_at, first, last), _cents(order.c.total),
        top.order_by(line.c.amount.desc(), line.c.line_no).limit(1).scalar_subquery().label("product"),
        sold.scalar_subquery().label("lines"),
        served_by(order.c.customer_id).label("owner"), _value_of(order.c.customer_id, ctx.run).label("clv"),
    ).where(order.c.placed_at >= ctx.day_start(first), order.c.placed_at < ctx.day_start(last + timedelta(days=1)),
            order.c.cancelled_at.is_(None), order.c.customer_id.is_not(None),
            order.c.total >= Decimal(minimum) if minimum is not None else order.c.total > 0,
            _live(order.c.customer_id))
    if in_category is not None:
        stmt = stmt.where(exists().where(line.c.order_id == order.c.id, line.c.kind == "sale", in_category))
    when = f"{days // 7} week{'s' if days > 7 else ''}" if days % 7 == 0 else f"{days} day{'s' if days > 1 else ''}"
    business = ctx.settings.business_name
    best: dict[tuple[int, int], tuple[Any, ...]] = {}  # one call per customer and day: about the biggest order
    for found in ctx.session.execute(stmt):
        key = (found[1], found[2])
        if key not in best or found[3] > best[key][3]:
            best[key] = tuple(found)
    tasks = []
    for order_id, customer_id, offset, total, product, lines, owner, clv in best.values():
        bought = first + timedelta(days=offset)
        what = product or "something"
        if lines and lines > 1:
            what += f" and {lines - 1} other item{'s' if lines > 2 else ''}"
        tasks.append(ctx.task(
            "courtesy_call", customer_id, f"order:{order_id}", due_on=bought + timedelta(days=days),
            owner_employee_id=owner, priority_cents=ctx.value(clv),
            reason=f"Bought {what} for {ctx.money(total)} on {ctx.day(bought)} — ask how "
                   f"{'they are' if lines and lines > 1 else 'it is'} holding up.",
            script=f"Hello, this is … from {business}. You bought {product or 'from us'} {when} ago: how is it "
                   "holding up? Is there anything we could have done better? (Nothing to sell: just listen, and "
                   "note what they say.)"))
    return tasks


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _thank_fans(ctx: _Pass, rule: RuleInfo, row: FollowUpRule) -> list[dict[str, Any]] | None:
    run = ctx.run
    if run is None:
        return None
    k = int(rule.params["purchases"])
    seen = row.last_evaluated_at
    if seen is None or run.created_at > seen or (row.updated_at is not None and row.updated_at > seen):
        first = ctx.today - timedelta(days=THANK_LOOKBACK_DAYS)  # a new run may have made someone a fan
    else:
        first = ctx.since_day(seen) - timedelta(days=1)
    last = ctx.today - timedelta(days=1)
    if first > last:
        return []
    order, prior = Order.__table__.alias("o"), Order.__table__.alias("prior")
    score = CustomerScore.__table__.alias("s")
    # The purchase's number: orders (not cancelled, not a return) up to this one, counted no further than k + 1
    # (a fan with fifty orders costs as little as one with three). Only fans whose run counts few purchase days
    # can have made their k-th order in the window: fewer than k before it, and at most one a day in it.
    upto = (select(prior.c.id).where(prior.c.customer_id == order.c.customer_id, prior.c.cancelled_at.is_(None),
                                     prior.c.total > 0, prior.c.placed_at <= order.c.placed_at)
            .order_by(prior.c.placed_at).limit(k + 1).correlate(order).subquery())
    nth = select(func.count()).select_from(upto).scalar_subquery()
    stmt = (select(order.c.id, order.c.customer_id, ctx.day_of(order.c.placed_at, first, last),
                   _cents(order.c.total), score.c.segment, score.c.clv, served_by(order.c.customer_id).label("owner"))
            .join(score, (score.c.customer_id == order.c.customer_id) & (score.c.run_id == run.id)
                  & score.c.segment.in_(FAN_SEGMENTS) & (score.c.purchases <= k + THANK_LOOKBACK_DAYS + 1))
            .where(order.c.placed_at >= ctx.day_start(first), order.c.placed_at < ctx.day_start(ctx.today),
                   order.c.cancelled_at.is_(None), order.c.customer_id.is_not(None), order.c.total > 0,
                   nth == k, _live(order.c.customer_id))
            # SQLite would walk every order of the window by placed_at and test each buyer; the fans with few
            # purchases are far fewer, so it starts from them and reads each one's orders by customer.
            .with_hint(order, "INDEXED BY ix_orders_customer_placed", "sqlite"))
    found = []
    for order_id, customer_id, offset, total, fan_segment, value, owner in ctx.session.execute(stmt):
        bought = first + timedelta(days=offset)
        found.append(ctx.task(
            "thank_fans", customer_id, f"purchase:{k}", due_on=bought + timedelta(days=1), owner_employee_id=owner,
            priority_cents=ctx.value(value),
            reason=f"{_ordinal(k)} purchase on {ctx.day(bought)} ({ctx.money(total)}, order #{order_id}); "
                   f"one of our {fan_segment} — say thank you.",
            script=f"Hello, this is … from {ctx.settings.business_name}. We noticed you came back to us again, and "
                   "we wanted to say thank you: it means a lot. Is there anything we can do for you?"))
    return found


def _win_back(ctx: _Pass, rule: RuleInfo, row: FollowUpRule) -> list[dict[str, Any]] | None:
    run = ctx.run
    if run is None:
        return None
    last = row.last_evaluated_at
    if last is not None and run.created_at <= last and (row.updated_at is None or row.updated_at <= last):
        return None  # the same run, looked at before with the same tuning
    score = CustomerScore.__table__.alias("s")
    stmt = (select(score.c.customer_id, score.c.last_purchase, score.c.clv, score.c.value_at_risk,
                   score.c.slipping_reason, served_by(score.c.customer_id).label("owner"))
            .where(score.c.run_id == run.id, score.c.slipping_rank.is_not(None), _live(score.c.customer_id)))
    minimum = rule.params.get("min_value_at_risk")
    if minimum is not None:
        stmt = stmt.where(score.c.value_at_risk >= float(minimum))
    found = []
    for customer_id, last_purchase, clv, at_risk, why, owner in ctx.session.execute(stmt):
        found.append(ctx.task(
            "win_back", customer_id, f"since:{last_purchase.isoformat()}", due_on=ctx.today, owner_employee_id=owner,
            priority_cents=ctx.value(clv),
            reason=f"Slipping fan: {(why or 'buys less often than before').rstrip('.')}; "
                   f"{ctx.money(round(at_risk or 0) * 100)} at risk. Last purchase {ctx.day(last_purchase)}.",
            script=f"Hello, this is … from {ctx.settings.business_name}. We have missed you! We wanted to ask how "
                   "you are, and whether there was anything we did that we should do better."))
    return found


def _month_days(days: Iterable[date]) -> dict[int, date]:
    """{month * 100 + day: the date in ``days``}; a 29 February falls on the 28th in other years."""
    found = {d.month * 100 + d.day: d for d in days}
    for d in list(found.values()):
        if d.month == 2 and d.day == 28 and not _leap(d.year):
            found[229] = d
    return found


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _yearly(ctx: _Pass, rule: RuleInfo, row: FollowUpRule) -> tuple[int, dict[int, date]]:
    """Days before, and the occasion days the window's due days point at."""
    before = int(rule.params["days_before"])
    first = ctx.since_day(row.last_evaluated_at) + timedelta(days=before)
    return before, _month_days(_days(first, ctx.today + timedelta(days=before)))


def _birthday(ctx: _Pass, rule: RuleInfo, row: FollowUpRule) -> list[dict[str, Any]]:
    before, occasions = _yearly(ctx, rule, row)
    day = extract("month", Customer.birthday) * 100 + extract("day", Customer.birthday)
    stmt = (select(Customer.id, Customer.birthday, served_by(Customer.id).label("owner"),
                   _value_of(Customer.id, ctx.run).label("clv"))
            .where(Customer.birthday.is_not(None), Customer.erased_at.is_(None), day.in_(list(occasions))))
    found = []
    for customer_id, born, owner, clv in ctx.session.execute(stmt):
        on = occasions[born.month * 100 + born.day]
        age = on.year - born.year
        turns = f" (turns {age})" if born.year > 1900 and 0 < age < 130 else ""
        found.append(ctx.task(
            "birthday", customer_id, str(on.year), due_on=on - timedelta(days=before), owner_employee_id=owner,
            priority_cents=ctx.value(clv), reason=f"Birthday on {ctx.day(on)}{turns} — send a note.",
            script=f"Happy birthday from all of us at {ctx.settings.business_name}! (A handwritten card says more "
                   "than an e-mail; sign it yourself.)"))
    return found


def _anniversary(ctx: _Pass, rule: RuleInfo, row: FollowUpRule) -> list[dict[str, Any]] | None:
    if ctx.run is None:
        return None
    before, occasions = _yearly(ctx, rule, row)
    score = CustomerScore.__table__.alias("s")
    day = extract("month", score.c.first_purchase) * 100 + extract("day", score.c.first_purchase)
    stmt = (select(score.c.customer_id, score.c.first_purchase, score.c.clv,
                   served_by(score.c.customer_id).label("owner"))
            .where(score.c.run_id == ctx.run.id, day.in_(list(occasions)), _live(score.c.customer_id)))
    found = []
    for customer_id, first, clv, owner in ctx.session.execute(stmt):
        on = occasions[first.month * 100 + first.day]
        years = on.year - first.year
        if years < 1:
            continue
        found.append(ctx.task(
            "anniversary", customer_id, str(on.year), due_on=on - timedelta(days=before), owner_employee_id=owner,
            priority_cents=ctx.value(clv),
            reason=f"{years} year{'s' if years > 1 else ''} since their first purchase on {ctx.day(first)} "
                   f"(anniversary {ctx.day(on)}) — send a note.",
            script=f"It is {years} year{'s' if years > 1 else ''} since you first shopped with us at "
                   f"{ctx.settings.business_name}: thank you for every visit since."))
    return found


def _misery_call(ctx: _Pass, rule: RuleInfo, row: FollowUpRule) -> list[dict[str, Any]]:
    after = int(rule.params["days_after"])
    floor = ctx.now - timedelta(days=CATCH_UP_DAYS)
    since = floor if row.last_evaluated_at is None else max(floor, row.last_evaluated_at - MISERY_OVERLAP)
    moment = Interaction.__table__.alias("m")
    who = select(Employee.name).where(Employee.id == moment.c.employee_id).scalar_subquery()
    stmt = (select(moment.c.id, moment.c.customer_id, moment.c.occurred_at, moment.c.channel, moment.c.kind,
                   who.label("served"), served_by(moment.c.customer_id).label("owner"),
                   _value_of(moment.c.customer_id, ctx.run).label("clv"))
            .where(moment.c.rating == MISERY, moment.c.created_at >= since, moment.c.created_at <= ctx.now,
                   _live(moment.c.customer_id)))
    found = []
    for moment_id, customer_id, occurred_at, channel, kind, served, owner, clv in ctx.session.execute(stmt):
        on = ctx.local_day(occurred_at)
        by = f", served by {served}" if served else ""
        found.append(ctx.task(
            "misery_call", customer_id, f"interaction:{moment_id}", due_on=on + timedelta(days=after),
            owner_employee_id=owner, priority_cents=ctx.value(clv),
            reason=f"A misery moment on {ctx.day(on)} ({kind.replace('_', ' ')}, {channel}{by}) — call to make "
                   "it right.",
            script=f"Hello, this is … from {ctx.settings.business_name}. I heard your last visit did not go as it "
                   "should have, and I am sorry. What happened? What can we do to put it right?"))
    return _one_per_day(found, lambda r: r["dedupe_key"])


_EVALUATORS: dict[str, Callable[[_Pass, RuleInfo, FollowUpRule], list[dict[str, Any]] | None]] = {
    "courtesy_call": _courtesy_call,
    "thank_fans": _thank_fans,
    "win_back": _win_back,
    "birthday": _birthday,
    "anniversary": _anniversary,
    "misery_call": _misery_call,
}
