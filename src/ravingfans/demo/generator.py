"""`generate()`: a whole synthetic shoe and clothing store, reproducible from a seed, with its ground truth.

Each customer gets a kind (fan, lapsing fan, regular, one-off), a first-visit day, a true purchase
rate drawn from a gamma distribution (as BG/NBD assumes) and, for regulars, a dropout probability
drawn from a beta distribution. The simulation (:mod:`ravingfans.demo.simulation`) turns those into
orders and moments of truth; what it knows and the data does not say is returned as ``truth``.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime

import numpy as np

from ravingfans.demo import names
from ravingfans.demo.catalog import Staff, build_catalog, build_staff
from ravingfans.demo.draws import Draws
from ravingfans.demo.feedback import AskedCustomer, DemoSurveyAnswer, plan_survey
from ravingfans.demo.model import (
    DEFAULT_CUSTOMERS,
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_YEARS,
    FAN,
    LAPSING_FAN,
    ONE_OFF,
    REGULAR,
    TIME_ZONE,
    DemoBusiness,
    DemoCustomer,
    DemoTruth,
)
from ravingfans.demo.profiles import Person, finish_customers, make_people
from ravingfans.demo.simulation import Shop
from ravingfans.demo.timeline import Timeline, build_timeline

# Kind -> (share of customers, first-visit Beta(a, b) over the window, fraction of the window it may fall in,
#          mean purchases per year while active, gamma shape of that rate across customers).
KINDS = {
    FAN: (0.14, (0.6, 1.4), 1.0, 22.0, 6.0),
    LAPSING_FAN: (0.08, (0.6, 2.0), 0.6, 18.0, 6.0),
    REGULAR: (0.48, (0.85, 1.0), 1.0, 5.5, 1.6),
    ONE_OFF: (0.30, (1.0, 1.0), 1.0, 3.0, 1.6),
}
REGULAR_DROPOUT = (1.2, 7.0)  # Beta(a, b) of a regular's chance to drop out after each purchase
REFERRAL_CHANCE = {FAN: 0.25, LAPSING_FAN: 0.2, REGULAR: 0.12, ONE_OFF: 0.06}
REFERRER_WEIGHT = {FAN: 10.0, LAPSING_FAN: 5.0, REGULAR: 1.5, ONE_OFF: 0.3}
MAX_RATE = 40.0  # nobody buys much more than three times a month on average
MAX_CUSTOMERS = 1_000_000
MAX_YEARS = 30


def _draw_customers(rng: np.random.Generator, n: int,
                    timeline: Timeline) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Kinds, first-visit days, true yearly rates and dropout probabilities, sorted by first visit."""
    kinds = list(KINDS)
    shares = np.array([KINDS[k][0] for k in kinds])
    which = rng.choice(len(kinds), size=n, p=shares / shares.sum())
    position = np.empty(n)
    rates = np.empty(n)
    dropouts = np.zeros(n)
    for k, kind in enumerate(kinds):
        mask = which == k
        count = int(mask.sum())
        _share, (a, b), reach, mean_rate, shape = KINDS[kind]
        position[mask] = rng.beta(a, b, size=count) * reach
        rates[mask] = np.clip(rng.gamma(shape, mean_rate / shape, size=count), 0.2, MAX_RATE)
        if kind == REGULAR:
            dropouts[mask] = rng.beta(*REGULAR_DROPOUT, size=count)
        elif kind == ONE_OFF:
            dropouts[mask] = 1.0
    last_start = max(timeline.days - 14, 1) / timeline.days
    operational = position * last_start * float(timeline.cum[-1])
    order = np.argsort(operational, kind="stable")
    acquired = timeline.day_of(operational[order])
    return [kinds[k] for k in which[order]], acquired, rates[order], dropouts[order]


def _refer(draws: Draws, people: list[Person], lapse: dict[str, int]) -> None:
    """Word of mouth: some customers were sent by an earlier one, mostly by fans who were still active."""
    running = 0.0
    cumulative: list[float] = []
    for p in people:
        running += REFERRER_WEIGHT[p.segment]
        cumulative.append(running)
    for i, p in enumerate(people):
        if i < 10 or not draws.chance(REFERRAL_CHANCE[p.segment]):
            continue
        j = 0
        for _attempt in range(3):
            j = min(bisect_right(cumulative, draws.u() * cumulative[i - 1], 0, i), i - 1)
            gone = lapse.get(people[j].key)
            if gone is None or gone >= p.first_epoch - 90 * 86400:
                break
        p.referred_by = people[j].key


def generate(seed: int = DEFAULT_SEED, customers: int = DEFAULT_CUSTOMERS, years: int = DEFAULT_YEARS,
             end: date = DEFAULT_END) -> DemoBusiness:
    """Build the demo business: same arguments, same business, down to the last cent and second."""
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 1 and {MAX_CUSTOMERS:,}, not {customers}")
    if not 1 <= years <= MAX_YEARS:
        raise ValueError(f"years must be between 1 and {MAX_YEARS}, not {years}")
    rng = np.random.default_rng(seed)
    draws = Draws(rng)
    timeline = build_timeline(end, years, TIME_ZONE)
    staff = build_staff(draws, rng, timeline.start, end)
    catalog = build_catalog(draws, timeline.start, timeline.now)
    kinds, acquired, rates, dropouts = _draw_customers(rng, customers, timeline)
    people = make_people(draws, rng, kinds, acquired, rates, dropouts, [c[4] for c in names.CATEGORIES], end)
    shop = Shop(draws, rng, timeline, staff, catalog)
    for person in people:
        shop.live(person)
    _refer(draws, people, shop.lapse)
    customer_rows, consents, notes = finish_customers(draws, people, timeline, staff,
                                                      [c[0] for c in names.CATEGORIES])
    employee_keys = [e.key for e in staff.employees]
    orders, lines = shop.demo_orders(employee_keys)
    interactions = shop.demo_interactions(employee_keys)
    survey = _ask(draws, people, customer_rows, staff, shop.lapse, timeline)
    truth = DemoTruth(
        lapsed={key: datetime.fromtimestamp(epoch, UTC) for key, epoch in shop.lapse.items()},
        employee_skill=dict(zip(employee_keys, staff.skill, strict=True)),
        purchase_rate={p.key: round(p.rate, 4) for p in people},
        segment_kind={p.key: p.segment for p in people},
        dropout_probability={p.key: round(p.dropout, 4) for p in people},
        answer_theme={a.customer_key: a.answer.theme for a in survey if a.answer is not None},
        answer_positive={a.customer_key: a.answer.positive for a in survey if a.answer is not None},
        answer_request={a.customer_key: a.answer.request for a in survey if a.answer is not None},
    )
    return DemoBusiness(
        seed=seed, start=timeline.start, end=end, now=timeline.now, employees=staff.employees,
        products=catalog.products, variants=catalog.variants, customers=customer_rows, consents=consents,
        notes=notes, orders=orders, lines=lines, interactions=interactions, truth=truth, survey_answers=survey,
    )


def _ask(draws: Draws, people: list[Person], rows: list[DemoCustomer], staff: Staff, lapse: dict[str, int],
         timeline: Timeline) -> list[DemoSurveyAnswer]:
    """The demo's survey: drawn last, so adding it changed none of the orders and moments drawn before."""
    asked = []
    for person, row in zip(people, rows, strict=True):
        who = person.preferred_employee
        skill = staff.skill[who] if who is not None else 0.0
        happiness = person.mood + 0.6 * skill - (1.2 if person.key in lapse else 0.0)
        asked.append(AskedCustomer(
            key=person.key, kind=person.segment, happiness=happiness,
            has_email_consent=bool(row.email_consent and row.email), first_purchase_epoch=person.first_epoch,
            staff_key=staff.employees[who].key if who is not None else None,
            staff_name=staff.employees[who].name.split()[0] if who is not None else "The assistant"))
    return plan_survey(draws, asked, int(timeline.now.timestamp()))

