"""The shop floor simulation: each customer's purchases, returns, refunds and rated moments of truth.

Every customer buys at a true yearly rate scaled by the day's trading weight. After each purchase a
"regular" may drop out (BG/NBD), more likely after a moment of misery and less after magic or a
courtesy call; "fans" never drop out; "lapsing fans" slow down, get unhappier and stop at a planned
day; "one-off" buyers buy once. Better employees make more magic, sell more and call back more often.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from ravingfans.db.types import from_minor
from ravingfans.demo import names
from ravingfans.demo.catalog import Catalog, Staff
from ravingfans.demo.draws import Draws, cumulate
from ravingfans.demo.model import (
    FAN,
    LAPSING_FAN,
    ONE_OFF,
    REGULAR,
    DemoInteraction,
    DemoLine,
    DemoOrder,
)
from ravingfans.demo.profiles import CHANNELS, Person
from ravingfans.demo.timeline import Timeline, thanksgiving

WEB_SKILL = 0.2  # how well the web shop "serves": a middling employee
STORE = "Main Street store"
ONLINE = "Online store"
DAY = 86400
_CONTACT_CHANNELS = cumulate([20, 50, 30])  # store, phone, email for complaints
_QUESTION_CHANNELS = (("store", 25), ("phone", 35), ("email", 30), ("web", 10))
_QUESTION_CUM = cumulate([w for _c, w in _QUESTION_CHANNELS])
_KIND_OFFSET = {"purchase": 0.0, "question": 0.2, "complaint": -0.9, "return": -0.3, "courtesy_call": 0.9,
                "gift": 1.6, "other": 0.3}


@dataclass(slots=True)
class _Order:
    epoch: int
    seq: int
    customer: str
    employee: int | None
    channel: str
    location: str
    status: str
    cancelled_epoch: int | None
    code: str | None
    # (kind, sku, product name, quantity, unit price cents, discount cents, amount cents)
    lines: list[tuple[str, str | None, str, int, int, int, int]] = field(default_factory=list)
    returned: int = 0  # cents given back on return receipts for this order
    origin: _Order | None = None  # for a return receipt: the order it returns goods from


@dataclass(slots=True)
class _Contact:
    epoch: int
    seq: int
    customer: str
    employee: int | None
    channel: str
    kind: str
    rating: int | None
    note: str


class Shop:
    """Runs the simulation customer by customer and collects orders and moments of truth."""

    def __init__(self, draws: Draws, rng: np.random.Generator, timeline: Timeline, staff: Staff,
                 catalog: Catalog) -> None:
        self.draws = draws
        self.rng = rng
        self.t = timeline
        self.staff = staff
        self.catalog = catalog
        self.orders: list[_Order] = []
        self.contacts: list[_Contact] = []
        self.lapse: dict[str, int] = {}  # customer key -> epoch of their last order, for those who dropped out
        self._seq = 0
        self._duty: list[tuple[list[int], list[float]]] = []
        for day in range(timeline.days):
            on = staff.on_duty(timeline.day_date(day))
            self._duty.append((on, cumulate([staff.fte[i] for i in on])))
        self._month = [timeline.day_date(d).month for d in range(timeline.days)]
        self._year = [timeline.day_date(d).year for d in range(timeline.days)]
        self._closed = [timeline.closed(d) for d in range(timeline.days)]
        self._black_friday = [False] * timeline.days
        for d in range(timeline.days):
            when = timeline.day_date(d)
            if when.month == 11:
                offset = (when - thanksgiving(when.year)).days
                self._black_friday[d] = 1 <= offset <= 4

    # -- helpers -------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _rate(self, skill: float, kind: str, mood: float) -> int:
        """Ordered-logit rating: +1 magic, 0 mediocre, -1 misery; skill and mood push it up."""
        y = 1.1 * skill + _KIND_OFFSET[kind] + mood + self.draws.logistic()
        return 1 if y > 0.8 else (-1 if y < -2.6 else 0)

    def _skill(self, employee: int | None) -> float:
        return WEB_SKILL if employee is None else self.staff.skill[employee]

    def _server(self, person: Person, day: int) -> int:
        """Who serves ``person`` on ``day``: often their usual person, otherwise whoever is on the floor."""
        on, cum = self._duty[day]
        loyal = person.segment in (FAN, LAPSING_FAN)
        pref = person.preferred_employee
        if pref is not None and pref in on and self.draws.chance(0.45 if loyal else 0.25):
            return pref
        chosen = on[self.draws.weighted(cum)]
        if pref is None:
            person.preferred_employee = chosen
        return chosen

    def _note(self, kind: str, rating: int | None) -> str:
        return self.draws.pick(names.INTERACTION_NOTES[kind][0 if rating is None else rating])

    def _contact(self, person: Person, day: int, channel: str, kind: str, employee: int | None, mood: float,
                 *, offset: float = 0.0, rated: float = 0.92, noted: bool = True) -> int | None:
        """Record a moment of truth on ``day``; returns its rating."""
        epoch = self.t.epoch(day, self.t.time_of_day(self.draws, day, channel))
        rating: int | None = self._rate(self._skill(employee), kind, mood + offset)
        if not self.draws.chance(rated):
            rating = None
        note = self._note(kind, rating) if noted else ""
        self.contacts.append(_Contact(epoch, self._next_seq(), person.key, employee, channel, kind, rating, note))
        return rating

    # -- one customer's life -------------------------------------------------------------------

    def purchase_days(self, person: Person) -> list[int]:
        """Days on which the customer would buy if they never dropped out (the first is their first visit)."""
        a = person.acquired_day
        if person.segment == ONE_OFF:
            return [a]
        shape = 2.0 if person.segment in (FAN, LAPSING_FAN) else 1.0
        total = float(self.t.cum[-1])
        start = float(self.t.cum[a]) + self.draws.u() * float(self.t.weight[a])
        scale = 365.0 / (person.rate * shape)
        m = int((total - start) * person.rate / 365.0 * 1.3) + 8
        times = start + np.cumsum(self.rng.gamma(shape, scale, size=m))
        while times[-1] < total:
            times = np.concatenate((times, times[-1] + np.cumsum(self.rng.gamma(shape, scale, size=m))))
        times = times[times < total]
        return [a, *self.t.day_of(times).tolist()]

    def live(self, person: Person) -> None:
        """Simulate one customer from their first purchase to dropping out or the demo's end."""
        draws = self.draws
        days_total = self.t.days
        lapse_day: int | None = None
        decline_day = days_total
        if person.segment == LAPSING_FAN:
            a = person.acquired_day
            lapse_day = a + int((days_total - a) * draws.between(0.35, 0.75))
            lapse_day = max(min(lapse_day, days_total - 75), a + 30)
            decline_day = max(a + 20, lapse_day - int(draws.between(45, 120)))
        dropped = False
        first = True
        for day in self.purchase_days(person):
            if lapse_day is not None and day >= lapse_day:
                break
            declining = day >= decline_day
            if declining and not first and draws.chance(0.45):
                continue  # a slipping fan comes less often
            outcome = self._purchase(person, day, declining)
            first = False
            if outcome is None:  # cancelled
                continue
            rating, called = outcome
            if person.segment == ONE_OFF:
                break
            if person.segment == REGULAR:
                p = person.dropout
                if rating == -1:
                    p = min(1.0, p + 0.25)
                elif rating == 1:
                    p *= 0.75
                if called:
                    p *= 0.7
                if draws.chance(p):
                    dropped = True
                    break
        gone = dropped or person.segment in (ONE_OFF, LAPSING_FAN)
        if gone:
            self.lapse[person.key] = person.last_epoch
        last_day = days_total
        if gone:
            last_day = min(days_total, (person.last_epoch - self.t.midnight[0]) // DAY + 1)
        self._side_contacts(person, last_day, decline_day)

    def _purchase(self, person: Person, day: int, declining: bool) -> tuple[int, bool] | None:
        """One purchase: an order with its lines, and what followed from it; None if it was cancelled."""
        draws = self.draws
        channel = CHANNELS[draws.weighted(person.channel_cum)]
        if self._closed[day] and channel != "web":
            channel = "web"
        epoch = self.t.epoch(day, self.t.time_of_day(draws, day, channel))
        employee = None if channel == "web" else self._server(person, day)
        skill = self._skill(employee)
        mood = person.mood - (1.0 if declining else 0.0)
        rating = self._rate(skill, "purchase", mood)
        lines, code, gift = self._basket(person, day, employee, declining)
        location = ONLINE if channel == "web" else STORE
        order = _Order(epoch, self._next_seq(), person.key, employee, channel, location, "paid", None, code, lines)
        self.orders.append(order)
        if not person.first_epoch:
            person.first_epoch = epoch
            person.first_channel = channel
        person.last_epoch = max(person.last_epoch, epoch)
        if channel == "web" and draws.chance(0.012):
            order.status = "voided"
            order.cancelled_epoch = epoch + 600 + int(draws.exp(6 * 3600))
            return None
        net = sum(line[6] for line in lines)
        person.orders += 1
        person.spend_cents += net
        if draws.chance(0.8 if employee is not None else 0.2):
            self.contacts.append(_Contact(epoch, self._next_seq(), person.key, employee, channel, "purchase",
                                          rating if draws.chance(0.9) else None,
                                          self._note("purchase", rating) if draws.chance(0.3) else ""))
        self._returns(person, day, order, rating, gift, mood)
        if rating == -1 and draws.chance(0.35):
            self._complain(person, day, order, mood)
        called = False
        # Better employees call back more often after a large purchase.
        if employee is not None and net >= 15000 and draws.chance(0.1 + 0.35 / (1 + math.exp(-1.5 * skill))):
            called = self._courtesy_call(person, day, employee, mood)
        return rating, called

    def _basket(self, person: Person, day: int, employee: int | None,
                declining: bool) -> tuple[list[tuple[str, str | None, str, int, int, int, int]], str | None, bool]:
        """The lines of one purchase, in the customer's tastes and sizes, priced with that day's discounts."""
        draws = self.draws
        catalog = self.catalog
        month = self._month[day]
        lam = (0.55 + 0.2 * self.staff.skill[employee]) if employee is not None else 0.5
        lam += (0.35 if month == 12 else 0.0) + (0.15 if person.segment == FAN else 0.0) - (0.3 if declining else 0.0)
        n = min(1 + draws.poisson(max(lam, 0.05)), 6)
        summer = month == 7
        black_friday = self._black_friday[day]
        loyalty = person.segment == FAN and draws.chance(0.08)
        code = "SUMMER25" if summer else "BLACKFRIDAY20" if black_friday else "THANKYOU10" if loyalty else None
        gift = month == 12 and draws.chance(0.35)
        lines: list[tuple[str, str | None, str, int, int, int, int]] = []
        for _ in range(n):
            c = draws.weighted(person.category_cum)
            index = catalog.by_category[c][draws.weighted(catalog.popularity_cum[c])]
            item = catalog.items[index]
            kind = names.CATEGORIES[c][1]
            own = not gift and draws.chance(0.85)
            if kind == "shoe":
                size: str | None = person.shoe_size if own else draws.pick(names.SHOE_SIZES)
            elif kind == "clothing":
                size = person.shirt_size if own else draws.pick(names.CLOTHING_SIZES)
            elif kind == "sock":
                size = "L" if float(person.shoe_size) >= 9.5 else "M"
            else:
                size = None
            if person.favourite_colour in item.colours and draws.chance(0.5):
                colour = person.favourite_colour
            else:
                colour = item.colours[draws.weighted(item.colour_cum)]
            quantity = 1 + draws.poisson(0.6) if kind == "sock" else (2 if draws.chance(0.03) else 1)
            gross = quantity * item.price_cents
            if summer and kind in ("shoe", "clothing") and (index + self._year[day]) % 5 != 0:
                pct = 0.25
            elif black_friday:
                pct = 0.2
            elif loyalty:
                pct = 0.1
            else:
                pct = 0.0
            discount = round(gross * pct)
            lines.append(("sale", item.sku[(size, colour)], item.name, quantity, item.price_cents, discount,
                          gross - discount))
            person.bought_categories[c] = person.bought_categories.get(c, 0) + 1
        if code is not None and not any(line[5] for line in lines):
            code = None
        return lines, code, gift

    def _returns(self, person: Person, day: int, order: _Order, rating: int, gift: bool, mood: float) -> None:
        """Return some lines days later, on a return receipt of its own."""
        draws = self.draws
        web = order.channel == "web"
        factor = (1.8 if rating == -1 else 1.0) * (1.5 if gift else 1.0)
        back = []
        for line in order.lines:
            assert line[1] is not None
            category = self.catalog.category_of[line[1]]
            kind = names.CATEGORIES[category]
            rate = kind.return_web if web else kind.return_store
            if draws.chance(rate * factor):
                back.append(line)
        if not back:
            return
        rday = day + 3 + int(draws.exp(7.0 if web else 5.0))
        channel = "web" if web and draws.chance(0.7) else "store"
        if channel == "store" and rday < self.t.days and self._closed[rday]:
            rday += 1
        if rday >= self.t.days:
            return  # not back yet
        employee = None if channel == "web" else self._server(person, rday)
        epoch = self.t.epoch(rday, self.t.time_of_day(draws, rday, channel))
        # As the importer signs a return row: quantity and amount negative, price and discount as sold.
        lines = [("return", sku, name, -qty, unit, disc, -amount) for _k, sku, name, qty, unit, disc, amount in back]
        self.orders.append(_Order(epoch, self._next_seq(), person.key, employee, channel,
                                  ONLINE if channel == "web" else STORE, "refunded", None, None, lines,
                                  origin=order))
        person.last_epoch = max(person.last_epoch, epoch)
        amount = sum(line[6] for line in back)
        order.returned += amount
        person.spend_cents -= amount
        rating_back: int | None = self._rate(self._skill(employee), "return", mood)
        if draws.chance(0.85):
            self.contacts.append(_Contact(epoch, self._next_seq(), person.key, employee, channel, "return",
                                          rating_back, self._note("return", rating_back)))
        if rating_back == -1 and draws.chance(0.2):
            self._complain(person, rday, order, mood)

    def _complain(self, person: Person, day: int, order: _Order, mood: float) -> None:
        """A complaint some days later; a good recovery sometimes includes a goodwill refund."""
        draws = self.draws
        cday = day + 1 + draws.below(10)
        if cday >= self.t.days:
            return
        channel = ("store", "phone", "email")[draws.weighted(_CONTACT_CHANNELS)]
        if channel == "store" and self._closed[cday]:
            channel = "phone"
        employee = self._server(person, cday)
        self._contact(person, cday, channel, "complaint", employee, mood, rated=1.0)
        remaining = sum(line[6] for line in order.lines) - order.returned
        if remaining > 1000 and draws.chance(0.35):
            refund = min(max(500, round(remaining * draws.between(0.15, 0.3) / 100) * 100), remaining)
            order.lines.append(("refund", None, "Refund", 1, -refund, 0, -refund))  # as the importer writes one
            order.status = "partially_refunded"
            person.spend_cents -= refund

    def _courtesy_call(self, person: Person, day: int, employee: int, mood: float) -> bool:
        """A call some weeks after a large purchase, by the person who served; True if it happened."""
        cday = day + 10 + self.draws.below(12)
        if cday >= self.t.days or employee not in self._duty[cday][0]:
            return False
        offset = -1.6 if "phone calls" in person.dislikes else 0.0
        self._contact(person, cday, "phone", "courtesy_call", employee, mood, offset=offset, rated=0.95)
        return True

    def _side_contacts(self, person: Person, last_day: int, decline_day: int) -> None:
        """Questions, gifts and other contacts while the customer is active (gifts only for fans)."""
        draws = self.draws
        a = person.acquired_day
        span = max(last_day - a, 1)
        years = span / 365.0
        loyal = person.segment in (FAN, LAPSING_FAN)
        for _ in range(draws.poisson((1.5 if loyal else 0.5) * years)):
            day = a + draws.below(span)
            channel = _QUESTION_CHANNELS[draws.weighted(_QUESTION_CUM)][0]
            if channel == "store" and self._closed[day]:
                channel = "email"
            employee = None if channel == "web" else self._server(person, day)
            mood = person.mood - (1.0 if day >= decline_day else 0.0)
            self._contact(person, day, channel, "question", employee, mood)
        for _ in range(draws.poisson(0.25 * years)):
            day = a + draws.below(span)
            channel = "store" if not self._closed[day] and draws.chance(0.6) else "phone"
            self._contact(person, day, channel, "other", self._server(person, day), person.mood)
        if not loyal:
            return
        birthday = person.birthday
        for year in range(self.t.start.year, self.t.end.year + 1):
            if birthday is None or not draws.chance(0.6):
                continue
            try:
                when = birthday.replace(year=year)
            except ValueError:  # 29 February
                when = birthday.replace(year=year, day=28)
            day = (when - self.t.start).days
            if a <= day < min(last_day, decline_day):
                self._gift(person, day)
        for _ in range(draws.poisson(0.3 * years)):
            day = a + draws.below(span)
            if day < decline_day:
                self._gift(person, day)

    def _gift(self, person: Person, day: int) -> None:
        channel = ("store", "email", "other")[self.draws.weighted((2, 3, 4))]
        if channel == "store" and self._closed[day]:
            channel = "other"
        self._contact(person, day, channel, "gift", self._server(person, day), person.mood, rated=1.0)

    # -- output --------------------------------------------------------------------------------

    def demo_orders(self, employee_keys: list[str]) -> tuple[list[DemoOrder], list[DemoLine]]:
        """Orders numbered in time order (100001, 100002, ...) with their lines."""
        orders: list[DemoOrder] = []
        lines: list[DemoLine] = []
        cache: dict[int, Decimal] = {}

        def money(cents: int) -> Decimal:
            value = cache.get(cents)
            if value is None:
                value = cache[cents] = from_minor(cents)
            return value

        ordered = sorted(self.orders, key=lambda o: (o.epoch, o.seq))
        keys = {id(o): str(number) for number, o in enumerate(ordered, start=100001)}
        for o in ordered:
            key = keys[id(o)]
            total = 0
            for no, (kind, sku, name, qty, unit, disc, amount) in enumerate(o.lines, start=1):
                lines.append(DemoLine(order_key=key, line_no=no, kind=kind, sku=sku, product_name=name, quantity=qty,
                                      unit_price=money(unit), discount=money(disc), amount=money(amount)))
                total += amount
            orders.append(DemoOrder(
                key=key, customer_key=o.customer,
                employee_key=None if o.employee is None else employee_keys[o.employee],
                placed_at=datetime.fromtimestamp(o.epoch, UTC), channel=o.channel, location=o.location,
                financial_status=o.status,
                cancelled_at=None if o.cancelled_epoch is None else datetime.fromtimestamp(o.cancelled_epoch, UTC),
                total=money(total), discount_code=o.code,
                returns_order=None if o.origin is None else keys[id(o.origin)],
            ))
        return orders, lines

    def demo_interactions(self, employee_keys: list[str]) -> list[DemoInteraction]:
        """Moments of truth in time order."""
        return [
            DemoInteraction(customer_key=c.customer,
                            employee_key=None if c.employee is None else employee_keys[c.employee],
                            occurred_at=datetime.fromtimestamp(c.epoch, UTC), channel=c.channel, kind=c.kind,
                            rating=c.rating, note=c.note)
            for c in sorted(self.contacts, key=lambda c: (c.epoch, c.seq))
        ]
