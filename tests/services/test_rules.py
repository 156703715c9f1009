"""Follow-up rules (SQLite and PostgreSQL): each rule fires on the right day of weeks of business, once per reason.

The clock is frozen at 09:00 in the business zone (Los Angeles, so a late-evening order is already the next
day in UTC) and walked day by day; every task is checked against what a person would expect from the rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ravingfans.clock import fixed
from ravingfans.config import Settings
from ravingfans.db import Database
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
    Task,
)
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services import rules
from ravingfans.services.duplicates import merge_customers
from ravingfans.services.erasure import erase_customer

ZONE = ZoneInfo("America/Los_Angeles")
START = date(2026, 3, 2)  # a Monday


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A moment of a business day, in the business zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


@pytest.fixture
def zoned(settings: Settings) -> Settings:
    """Settings with the shop in Los Angeles and prices in dollars."""
    return settings.model_copy(update={"time_zone": "America/Los_Angeles", "currency": "USD",
                                       "business_name": "Alder & Pine"})


def employee(s: Session, name: str, *, active: bool = True, email: str | None = None) -> int:
    row = Employee(name=name, email=email, active=active, source="t", external_id=name,
                   created_at=datetime(2020, 1, 1, tzinfo=UTC))
    s.add(row)
    s.flush()
    return row.id


def customer(s: Session, first: str, **extra: object) -> int:
    row = Customer(first_name=first, created_at=datetime(2020, 1, 1, tzinfo=UTC),
                   updated_at=datetime(2020, 1, 1, tzinfo=UTC), **extra)
    s.add(row)
    s.flush()
    return row.id


def buy(s: Session, who: int, when: datetime, *lines: tuple[str, str], by: int | None = None,
        cancelled: bool = False, variant: int | None = None) -> int:
    """An order of lines (name, price), one of each."""
    order = Order(source="t", external_id=f"{who}-{when.isoformat()}-{len(lines)}", customer_id=who, employee_id=by,
                  placed_at=when, cancelled_at=when if cancelled else None)
    total = Decimal(0)
    for number, (name, price) in enumerate(lines, start=1):
        total += Decimal(price)
        order.lines.append(OrderLine(line_no=number, kind="sale", product_name=name, sku=name[:3], quantity=1,
                                     unit_price=Decimal(price), amount=Decimal(price), variant_id=variant))
    order.total = total
    s.add(order)
    s.flush()
    return order.id


def score_run(s: Session, when: datetime, rows: dict[int, dict[str, object]]) -> int:
    """A stored scoring run with the given customers' scores (segment, clv, slipping, purchase days)."""
    run = ScoreRun(created_at=when, observation_end=when.astimezone(ZONE).date(), customers=len(rows), model="none",
                   params={}, segments={})
    s.add(run)
    s.flush()
    for cid, values in rows.items():
        base: dict[str, object] = {
            "first_purchase": date(2024, 1, 1), "last_purchase": date(2026, 1, 1), "purchases": 3, "frequency": 2,
            "recency": 100.0, "T": 200.0, "monetary_value": 50.0, "total_spend": 150.0, "days_since_last": 10.0,
            "R": 3, "F": 3, "M": 3, "FM": 3, "segment": "Need Attention", "clv": None}
        s.add(CustomerScore(run_id=run.id, customer_id=cid, **{**base, **values}))
    s.flush()
    return run.id


def switch_on(db: Database, *names: str, **params: object) -> None:
    with db.session(write=True) as s:
        rules.ensure_rules(s, clock=fixed(at(START - timedelta(days=60))))
        for name in names:
            rules.update_rule(s, name, enabled=True, params={k: str(v) for k, v in params.items()},
                              clock=fixed(at(START - timedelta(days=60))))


def evaluate(db: Database, settings: Settings, day: date, hour: int = 9, **kw: object) -> rules.RulesReport:
    with db.session(write=True) as s:
        return rules.evaluate_rules(s, settings, clock=fixed(at(day, hour)), **kw)


def tasks(db: Database, rule: str | None = None) -> list[Task]:
    with db.session() as s:
        stmt = select(Task).order_by(Task.id)
        if rule is not None:
            stmt = stmt.where(Task.rule == rule)
        return list(s.scalars(stmt))


def walk(db: Database, settings: Settings, days: Iterable[date]) -> dict[date, list[Task]]:
    """Evaluate once a day; the tasks each day's pass created."""
    created: dict[date, list[Task]] = {}
    seen: set[int] = set()
    for day in days:
        evaluate(db, settings, day)
        new = [t for t in tasks(db) if t.id not in seen]
        seen.update(t.id for t in new)
        if new:
            created[day] = new
    return created


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]


# --- courtesy calls ------------------------------------------------------------------------------------------------


def test_courtesy_call_appears_fourteen_days_after_the_purchase_for_who_served(db: Database, zoned: Settings) -> None:
    switch_on(db, "courtesy_call")
    with db.session(write=True) as s:
        sam, jo = employee(s, "Sam"), employee(s, "Jo")
        ann, ben, cat = customer(s, "Ann"), customer(s, "Ben"), customer(s, "Cat")
        boots = buy(s, ann, at(START, 20, 30), ("Trail boots", "129.00"), by=sam)  # 04:30 UTC the next day
        buy(s, ben, at(START + timedelta(days=2)), ("Scarf", "30.00"), by=jo, cancelled=True)
        socks = buy(s, cat, at(START + timedelta(days=3)), ("Socks", "5.50"), ("Laces", "2.00"), by=jo)
    created = walk(db, zoned, days_from(START, 30))
    assert sorted(created) == [START + timedelta(days=14), START + timedelta(days=17)]
    first, = created[START + timedelta(days=14)]
    assert (first.customer_id, first.due_on, first.owner_employee_id, first.kind) == (
        ann, START + timedelta(days=14), sam, "call")
    assert first.dedupe_key == f"courtesy_call:{ann}:order:{boots}"
    assert first.reason == "Bought Trail boots for $129 on 2 Mar — ask how it is holding up."
    assert "Alder & Pine" in first.script and "2 weeks ago" in first.script
    second, = created[START + timedelta(days=17)]
    assert second.dedupe_key == f"courtesy_call:{cat}:order:{socks}"
    assert second.reason.startswith("Bought Socks and 1 other item for $7.50 on 5 Mar")
    assert second.priority == Decimal(0)  # nobody scored yet


def test_courtesy_call_only_above_an_amount_or_in_a_category(db: Database, zoned: Settings) -> None:
    switch_on(db, "courtesy_call", days=7, min_amount="100", category="shoes")
    with db.session(write=True) as s:
        product = Product(name="Trail boots", category="Shoes", external_id="P1", created_at=at(START))
        hat = Product(name="Hat", category="Hats", external_id="P2", created_at=at(START))
        s.add_all([product, hat])
        s.flush()
        shoe = ProductVariant(product_id=product.id, sku="TB-42", updated_at=at(START))
        cap = ProductVariant(product_id=hat.id, sku="H-1", updated_at=at(START))
        s.add_all([shoe, cap])
        s.flush()
        big_shoes = buy(s, customer(s, "Ann"), at(START), ("Trail boots", "150.00"), variant=shoe.id)
        buy(s, customer(s, "Ben"), at(START), ("Trail boots", "99.00"), variant=shoe.id)  # under the amount
        buy(s, customer(s, "Cat"), at(START), ("Hat", "300.00"), variant=cap.id)  # not shoes
    walk(db, zoned, days_from(START, 10))
    assert [t.dedupe_key.rsplit(":", 1)[1] for t in tasks(db)] == [str(big_shoes)]
    with db.session() as s:
        assert rules.get_rule(s, "courtesy_call").params == {"days": 7, "min_amount": "100.00", "category": "shoes"}


def test_two_orders_on_one_day_make_one_call_about_the_bigger(db: Database, zoned: Settings) -> None:
    switch_on(db, "courtesy_call")
    with db.session(write=True) as s:
        ann = customer(s, "Ann")
        buy(s, ann, at(START, 10), ("Socks", "5.00"))
        coat = buy(s, ann, at(START, 15), ("Coat", "300.00"))
    walk(db, zoned, days_from(START + timedelta(days=13), 3))
    assert [t.dedupe_key for t in tasks(db)] == [f"courtesy_call:{ann}:order:{coat}"]


# --- owner and priority --------------------------------------------------------------------------------------------


def test_owner_is_who_served_the_latest_order_still_on_the_staff_and_priority_is_value(db: Database,
                                                                                       zoned: Settings) -> None:
    switch_on(db, "courtesy_call")
    with db.session(write=True) as s:
        sam, gone = employee(s, "Sam"), employee(s, "Gone", active=False)
        ann, ben, cat = customer(s, "Ann"), customer(s, "Ben"), customer(s, "Cat")
        buy(s, ann, at(START), ("Boots", "100.00"), by=gone)  # the latest, but Gone has left: Sam served before
        buy(s, ann, at(START - timedelta(days=40)), ("Socks", "5.00"), by=sam)
        buy(s, ben, at(START), ("Boots", "100.00"))  # a web order: nobody served
        buy(s, cat, at(START), ("Boots", "100.00"), by=sam)
        buy(s, cat, at(START + timedelta(days=1)), ("Hat", "10.00"), by=None)  # a later web order: still Sam
        score_run(s, at(START, 1), {ann: {"clv": 1234.567}, ben: {"clv": 10.0}})
    evaluate(db, zoned, START + timedelta(days=14))
    found = {t.customer_id: (t.owner_employee_id, t.priority) for t in tasks(db)}
    assert found == {ann: (sam, Decimal("1234.57")), ben: (None, Decimal("10.00")), cat: (sam, Decimal(0))}


# --- thank fans ----------------------------------------------------------------------------------------------------


def test_thank_fans_after_the_third_purchase_of_a_fan_only(db: Database, zoned: Settings) -> None:
    switch_on(db, "thank_fans")
    with db.session(write=True) as s:
        sam = employee(s, "Sam")
        fan, other, early = customer(s, "Fan"), customer(s, "Other"), customer(s, "Early")
        for who in (fan, other, early):
            buy(s, who, at(START - timedelta(days=60)), ("Socks", "5.00"), by=sam)
            buy(s, who, at(START - timedelta(days=30)), ("Socks", "5.00"), by=sam)
        buy(s, fan, at(START - timedelta(days=20)), ("Socks", "5.00"), cancelled=True)  # does not count
        buy(s, early, at(START - timedelta(days=20)), ("Hat", "20.00"), by=sam)  # its 3rd long ago, 4th now
        score_run(s, at(START, 1), {fan: {"segment": "Champions", "clv": 500.0},
                                    other: {"segment": "Need Attention"}, early: {"segment": "Loyal"}})
    with db.session(write=True) as s:
        third = buy(s, fan, at(START + timedelta(days=2), 18), ("Coat", "200.00"), by=sam)
        buy(s, other, at(START + timedelta(days=2)), ("Coat", "200.00"), by=sam)
        buy(s, early, at(START + timedelta(days=2)), ("Coat", "200.00"), by=sam)
    created = walk(db, zoned, days_from(START, 10))
    assert list(created) == [START + timedelta(days=3)]
    task, = created[START + timedelta(days=3)]
    assert (task.customer_id, task.kind, task.due_on, task.owner_employee_id, task.priority) == (
        fan, "thank", START + timedelta(days=3), sam, Decimal("500.00"))
    assert task.dedupe_key == f"thank_fans:{fan}:purchase:3"
    assert task.reason == f"3rd purchase on 4 Mar ($200, order #{third}); one of our Champions — say thank you."


def test_thank_fans_waits_for_the_scoring_run_that_makes_them_a_fan(db: Database, zoned: Settings) -> None:
    switch_on(db, "thank_fans", purchases=1)
    with db.session(write=True) as s:
        ann = customer(s, "Ann")
        score_run(s, at(START, 1), {ann: {"segment": "New"}})
        buy(s, ann, at(START, 12), ("Coat", "200.00"))
    assert walk(db, zoned, days_from(START + timedelta(days=1), 2)) == {}
    with db.session(write=True) as s:
        score_run(s, at(START + timedelta(days=3), 1), {ann: {"segment": "Champions"}})
    created = walk(db, zoned, [START + timedelta(days=3), START + timedelta(days=4)])
    assert [(d, [t.due_on for t in ts]) for d, ts in created.items()] == [
        (START + timedelta(days=3), [START + timedelta(days=1)])]  # created late, due the day after the purchase


# --- win back ------------------------------------------------------------------------------------------------------


def test_win_back_once_per_lapse_of_each_slipping_fan(db: Database, zoned: Settings) -> None:
    switch_on(db, "win_back")
    with db.session(write=True) as s:
        ann, ben = customer(s, "Ann"), customer(s, "Ben")
        score_run(s, at(START, 1), {
            ann: {"segment": "At Risk", "slipping_rank": 1, "value_at_risk": 812.4, "clv": 900.0,
                  "slipping_reason": "Usually buys every 30 days; 95 days since the last purchase.",
                  "last_purchase": date(2025, 11, 27)},
            ben: {"segment": "Champions"}})
    assert evaluate(db, zoned, START).created == {"win_back": 1}
    task, = tasks(db)
    assert (task.customer_id, task.kind, task.due_on, task.priority) == (ann, "win_back", START, Decimal("900.00"))
    assert task.dedupe_key == f"win_back:{ann}:since:2025-11-27"
    assert task.reason == ("Slipping fan: Usually buys every 30 days; 95 days since the last purchase; $812 at risk. "
                           "Last purchase 27 Nov 2025.")
    report = evaluate(db, zoned, START, hour=15)
    assert report.created == {} and report.skipped == {"win_back": "nothing new since the last pass"}
    with db.session(write=True) as s:  # the next run: still slipping since the same purchase, then again later
        score_run(s, at(START + timedelta(days=1), 1), {ann: {"slipping_rank": 1, "last_purchase": date(2025, 11, 27)}})
    assert evaluate(db, zoned, START + timedelta(days=1)).created == {"win_back": 0}
    with db.session(write=True) as s:
        score_run(s, at(START + timedelta(days=90), 1), {ann: {"slipping_rank": 3, "last_purchase": START}})
    assert evaluate(db, zoned, START + timedelta(days=90)).created == {"win_back": 1}


def test_win_back_can_ask_for_a_minimum_value_at_risk(db: Database, zoned: Settings) -> None:
    switch_on(db, "win_back", min_value_at_risk=100)
    with db.session(write=True) as s:
        big, small = customer(s, "Big"), customer(s, "Small")
        score_run(s, at(START, 1), {big: {"slipping_rank": 1, "value_at_risk": 150.0},
                                    small: {"slipping_rank": 2, "value_at_risk": 99.0}})
    evaluate(db, zoned, START)
    assert [t.customer_id for t in tasks(db)] == [big]


def test_rules_that_need_a_scoring_run_say_so(db: Database, zoned: Settings) -> None:
    switch_on(db, "win_back", "thank_fans", "anniversary")
    report = evaluate(db, zoned, START)
    assert report.skipped == {"thank_fans": "no scoring run yet", "win_back": "no scoring run yet",
                              "anniversary": "no scoring run yet"}
    assert "not run: thank_fans (no scoring run yet)" in report.summary()


# --- birthdays and anniversaries -----------------------------------------------------------------------------------


def test_birthday_note_a_week_before_each_year(db: Database, zoned: Settings) -> None:
    switch_on(db, "birthday")
    with db.session(write=True) as s:
        ann = customer(s, "Ann", birthday=date(1980, 3, 20))
        leap = customer(s, "Leap", birthday=date(2000, 2, 29))
        customer(s, "Nobody")
    created = walk(db, zoned, days_from(date(2027, 2, 1), 50))  # 2027 is not a leap year
    assert {d: [(t.customer_id, t.due_on, t.dedupe_key) for t in ts] for d, ts in created.items()} == {
        date(2027, 2, 21): [(leap, date(2027, 2, 21), f"birthday:{leap}:2027")],
        date(2027, 3, 13): [(ann, date(2027, 3, 13), f"birthday:{ann}:2027")]}
    assert created[date(2027, 3, 13)][0].reason == "Birthday on 20 Mar (turns 47) — send a note."
    assert created[date(2027, 2, 21)][0].reason == "Birthday on 28 Feb (turns 27) — send a note."
    walk(db, zoned, days_from(date(2028, 3, 10), 5))  # the next year: a new note
    assert [t.dedupe_key for t in tasks(db, "birthday")][-1] == f"birthday:{ann}:2028"


def test_birthday_catches_up_a_week_when_switched_on_and_not_more(db: Database, zoned: Settings) -> None:
    switch_on(db, "birthday", days_before=0)
    with db.session(write=True) as s:
        for offset in (-9, -7, -1, 0, 1):
            customer(s, f"B{offset}", birthday=(START + timedelta(days=offset)).replace(year=1990))
    evaluate(db, zoned, START)
    assert sorted(t.due_on - START for t in tasks(db)) == [timedelta(days=d) for d in (-7, -1, 0)]


def test_anniversary_of_the_first_purchase_from_the_latest_run(db: Database, zoned: Settings) -> None:
    switch_on(db, "anniversary", days_before=3)
    with db.session(write=True) as s:
        ann, new = customer(s, "Ann"), customer(s, "New")
        score_run(s, at(START, 1), {ann: {"first_purchase": date(2023, 3, 10), "clv": 50.0},
                                    new: {"first_purchase": date(2026, 3, 1)}})
    created = walk(db, zoned, days_from(START, 12))
    task, = created[date(2026, 3, 7)]
    assert (task.customer_id, task.dedupe_key, task.kind) == (ann, f"anniversary:{ann}:2026", "note")
    assert task.reason == "3 years since their first purchase on 10 Mar 2023 (anniversary 10 Mar) — send a note."
    assert list(created) == [date(2026, 3, 7)]


# --- misery --------------------------------------------------------------------------------------------------------


def test_misery_call_due_the_next_day(db: Database, zoned: Settings) -> None:
    switch_on(db, "misery_call")
    with db.session(write=True) as s:
        sam = employee(s, "Sam")
        ann = customer(s, "Ann")
        buy(s, ann, at(START - timedelta(days=3)), ("Boots", "100.00"), by=sam)
    evaluate(db, zoned, START)
    with db.session(write=True) as s:
        when = at(START + timedelta(days=1), 16)
        for rating in (-1, 1):
            s.add(Interaction(customer_id=ann, employee_id=sam, occurred_at=when, created_at=when, channel="store",
                              kind="complaint", rating=rating, note="The sole came off"))
    created = walk(db, zoned, [START + timedelta(days=1), START + timedelta(days=2), START + timedelta(days=3)])
    assert list(created) == [START + timedelta(days=2)]
    task, = created[START + timedelta(days=2)]
    assert (task.customer_id, task.kind, task.due_on, task.owner_employee_id) == (
        ann, "call", START + timedelta(days=2), sam)
    assert task.reason == "A misery moment on 3 Mar (complaint, store, served by Sam) — call to make it right."
    assert "The sole" not in task.reason + task.script  # the moment's words stay on the timeline


# --- never twice, never for the erased -----------------------------------------------------------------------------


def test_the_same_reason_never_makes_a_second_task(db: Database, zoned: Settings) -> None:
    switch_on(db, *rules.RULES)
    with db.session(write=True) as s:
        ann = customer(s, "Ann", birthday=date(1990, 3, 23))
        buy(s, ann, at(START), ("Boots", "100.00"))
        s.add(Interaction(customer_id=ann, occurred_at=at(START + timedelta(days=15)),
                          created_at=at(START + timedelta(days=15)), channel="phone", kind="complaint", rating=-1))
        score_run(s, at(START, 1), {ann: {"slipping_rank": 1, "first_purchase": date(2025, 3, 23)}})
    day = START + timedelta(days=16)
    first = evaluate(db, zoned, day)
    assert first.created == {name: 1 for name in rules.RULES} | {"thank_fans": 0}
    assert evaluate(db, zoned, day, hour=17).total == 0
    with db.session(write=True) as s:  # forget when the rules last ran: they look back a whole week again
        s.execute(update(FollowUpRule).values(last_evaluated_at=None, updated_at=at(day, 18)))
    again = evaluate(db, zoned, day, hour=19)
    assert again.total == 0 and sum(again.candidates.values()) >= 5
    assert len(tasks(db)) == 5 and len({t.dedupe_key for t in tasks(db)}) == 5


def test_erased_and_merged_away_customers_get_no_tasks(db: Database, zoned: Settings) -> None:
    switch_on(db, *rules.RULES)
    with db.session(write=True) as s:
        gone = customer(s, "Gone", email="gone@example.com", birthday=date(1990, 3, 20))
        keep = customer(s, "Keep", email="keep@example.com")
        merged = customer(s, "Merged", email="keep@example.com", birthday=date(1991, 3, 20))
        for who in (gone, keep, merged):
            buy(s, who, at(START - timedelta(days=1)), ("Boots", "100.00"))
        score_run(s, at(START, 1), {c: {"slipping_rank": 1, "first_purchase": date(2024, 3, 20)}
                                    for c in (gone, keep, merged)})
    with db.session(write=True) as s:
        erase_customer(s, gone, by_user_id=None, secret=zoned.secret_key.get_secret_value(), clock=fixed(at(START)))
        merge_customers(s, keep, merged, clock=fixed(at(START)))
    created = walk(db, zoned, days_from(START, 20))
    everyone = {t.customer_id for ts in created.values() for t in ts}
    assert everyone == {keep}
    assert {t.rule for t in tasks(db)} == {"courtesy_call", "win_back", "anniversary", "birthday"}


def test_two_passes_racing_make_each_task_once(db: Database, zoned: Settings) -> None:
    switch_on(db, "courtesy_call", "birthday")
    with db.session(write=True) as s:
        for n in range(300):
            who = customer(s, f"C{n}", birthday=(START + timedelta(days=7)).replace(year=1980))
            buy(s, who, at(START - timedelta(days=14)), ("Boots", "100.00"))
    start = threading.Barrier(2)
    reports: list[rules.RulesReport] = []
    errors: list[BaseException] = []

    def one_pass(hour: int) -> None:
        try:
            with db.session(write=True) as s:
                start.wait(timeout=10)
                reports.append(rules.evaluate_rules(s, zoned, clock=fixed(at(START, hour))))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one_pass, args=(h,)) for h in (9, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(reports) == 2
    assert sorted(r.total for r in reports) == [0, 600]
    assert len(tasks(db)) == 600


# --- the rules themselves ------------------------------------------------------------------------------------------


def test_ensure_rules_stores_each_standard_rule_once_and_can_switch_them_on(db: Database) -> None:
    with db.session(write=True) as s:
        rules.ensure_rules(s)
        rules.ensure_rules(s)
        assert [(r.name, r.enabled) for r in rules.list_rules(s)] == [(n, False) for n in rules.RULES]
        rules.update_rule(s, "birthday", params={"days_before": "3"})
        rules.ensure_rules(s, enable_standard=True)
        listed = {r.name: r for r in rules.list_rules(s)}
    assert all(r.enabled for r in listed.values())
    assert listed["birthday"].params == {"days_before": 3}  # tuning kept
    assert listed["courtesy_call"].params == {"days": 14, "min_amount": None, "category": None}
    with db.session() as s:
        assert len(s.scalars(select(FollowUpRule)).all()) == len(rules.RULES)


def test_bad_names_and_values_are_refused_with_the_fix(db: Database, zoned: Settings) -> None:
    with db.session(write=True) as s, pytest.raises(NotFound, match="courtesy_call, thank_fans"):
        rules.update_rule(s, "courtesy", enabled=True)
    for params, message in (({"days": "two"}, "whole number from 1 to 365"), ({"days": "0"}, "from 1"),
                            ({"min_amount": "-5"}, "an amount such as 50"), ({"colour": "red"}, "has no setting")):
        with db.session(write=True) as s, pytest.raises(ValidationFailed, match=message):
            rules.update_rule(s, "courtesy_call", params=params)
    with db.session(write=True) as s:
        rules.ensure_rules(s)
    with db.session(write=True) as s, pytest.raises(ValidationFailed, match="switched off") as caught:
        rules.evaluate_rules(s, zoned, clock=fixed(at(START)), only="birthday")
    assert "ravingfans rules enable birthday" in str(caught.value)


def test_only_runs_the_one_rule(db: Database, zoned: Settings) -> None:
    switch_on(db, "courtesy_call", "birthday")
    with db.session(write=True) as s:
        ann = customer(s, "Ann", birthday=START + timedelta(days=7))
        buy(s, ann, at(START - timedelta(days=14)), ("Boots", "100.00"))
    report = evaluate(db, zoned, START, only="birthday")
    assert report.created == {"birthday": 1} and [t.rule for t in tasks(db)] == ["birthday"]
    assert report.summary() == "Follow-up rules on 2026-03-02: 1 new task (birthday 1)."


def test_a_rule_of_days_runs_once_a_day_and_picks_up_what_came_in_late_the_next(db: Database,
                                                                                zoned: Settings) -> None:
    switch_on(db, "birthday", days_before=0)
    evaluate(db, zoned, START)
    with db.session(write=True) as s:  # typed in at noon: the birthday is today
        ann = customer(s, "Ann", birthday=START.replace(year=1990))
    report = evaluate(db, zoned, START, hour=15)
    assert report.skipped == {"birthday": "already run today"} and tasks(db) == []
    evaluate(db, zoned, START + timedelta(days=1))
    assert [(t.customer_id, t.due_on) for t in tasks(db)] == [(ann, START)]
    with db.session(write=True) as s:  # retuned: it runs again the same day
        bo = customer(s, "Bo", birthday=(START + timedelta(days=4)).replace(year=1990))
        rules.update_rule(s, "birthday", params={"days_before": "3"}, clock=fixed(at(START + timedelta(days=1), 10)))
    assert evaluate(db, zoned, START + timedelta(days=1), hour=11).created == {"birthday": 1}
    assert tasks(db)[-1].customer_id == bo


@pytest.fixture(scope="module")
def demo_business():
    from ravingfans.demo.generator import generate

    return generate(seed=3, customers=300, years=2)


def test_on_the_demo_business_the_tasks_are_those_worked_out_by_hand(db: Database, settings: Settings,
                                                                     demo_business) -> None:
    """Courtesy calls and birthday notes of a week of the demo, against the same found by loops over the rows."""
    from ravingfans.demo.load import load

    load(demo_business, db.engine)
    shop = settings.model_copy(update={"time_zone": demo_business.time_zone})
    zone = shop.zone
    with db.session() as s:
        last = max(s.scalars(select(Order.placed_at)).all()).astimezone(zone).date()
    today = last + timedelta(days=1)
    with db.session(write=True) as s:
        rules.ensure_rules(s)
        for name in ("courtesy_call", "birthday"):
            rules.update_rule(s, name, enabled=True)
        report = rules.evaluate_rules(s, shop, clock=fixed(datetime.combine(today, time(9), tzinfo=zone)))
    window = [today - timedelta(days=n) for n in range(rules.CATCH_UP_DAYS + 1)]
    with db.session() as s:
        biggest: dict[tuple[int, date], Order] = {}
        for order in s.scalars(select(Order).where(Order.customer_id.is_not(None))):
            due = order.placed_at.astimezone(zone).date() + timedelta(days=14)
            if order.cancelled_at is None and order.total > 0 and due in window:
                key = (order.customer_id, due)
                if key not in biggest or order.total > biggest[key].total:
                    biggest[key] = order
        calls = {f"courtesy_call:{c}:order:{o.id}" for (c, _due), o in biggest.items()}
        notes = set()
        for customer in s.scalars(select(Customer).where(Customer.birthday.is_not(None))):
            for due in window:
                on = due + timedelta(days=7)
                if (customer.birthday.month, customer.birthday.day) == (on.month, on.day):
                    notes.add(f"birthday:{customer.id}:{on.year}")
        made = {t.dedupe_key for t in s.scalars(select(Task))}
    assert calls and made == calls | notes
    assert report.created == {"courtesy_call": len(calls), "birthday": len(notes)}


def test_after_a_merge_the_kept_record_gets_no_second_task_for_the_same_day(db: Database, zoned: Settings) -> None:
    switch_on(db, "courtesy_call", "birthday")
    with db.session(write=True) as s:
        keep = customer(s, "Keep", email="k@example.com", birthday=date(1990, 3, 20))
        other = customer(s, "Other", email="k@example.com", birthday=date(1990, 3, 20))
        buy(s, keep, at(START, 10), ("Socks", "5.00"))
        buy(s, other, at(START, 11), ("Boots", "150.00"))
    day = START + timedelta(days=14)
    assert evaluate(db, zoned, day - timedelta(days=1)).created == {"courtesy_call": 0, "birthday": 2}
    assert evaluate(db, zoned, day).created == {"courtesy_call": 2, "birthday": 0}
    with db.session(write=True) as s:
        merge_customers(s, keep, other, clock=fixed(at(day, 10)))
        s.execute(update(FollowUpRule).values(last_evaluated_at=None, updated_at=at(day, 10)))
    again = evaluate(db, zoned, day, hour=11)
    assert again.created == {"courtesy_call": 0, "birthday": 0} and again.candidates == {"courtesy_call": 1,
                                                                                          "birthday": 1}
    assert {t.customer_id for t in tasks(db)} == {keep} and len(tasks(db)) == 4
