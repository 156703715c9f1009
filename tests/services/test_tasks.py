"""Tasks (SQLite and PostgreSQL): created once per key even by two writers at once, listed, queued and worked."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_rules import START, at, buy, customer, employee, score_run

from ravingfans.clock import fixed
from ravingfans.db import Database
from ravingfans.db.models import Interaction, Task, User
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services import tasks
from ravingfans.services.erasure import erase_customer

TODAY = START


def make(s: Session, who: int, key: str, *, due: date = TODAY, owner: int | None = None,
         priority: str | None = None, kind: str = "call") -> int:
    made = tasks.create_task(s, dedupe_key=key, customer_id=who, rule="manual", kind=kind, reason=f"Because {key}",
                             script="Say hello", due_on=due, owner_employee_id=owner,
                             priority=Decimal(priority) if priority is not None else None, clock=fixed(at(TODAY)))
    assert made is not None
    return made


def test_create_task_once_per_key_with_owner_and_value_by_default(db: Database) -> None:
    with db.session(write=True) as s:
        sam = employee(s, "Sam")
        ann = customer(s, "Ann")
        buy(s, ann, at(TODAY - timedelta(days=3)), ("Boots", "100.00"), by=sam)
        score_run(s, at(TODAY, 1), {ann: {"clv": 321.0}})
        first = make(s, ann, "manual:1")
        again = tasks.create_task(s, dedupe_key="manual:1", customer_id=ann, rule="manual", kind="call",
                                  reason="Another reason", script="", due_on=TODAY + timedelta(days=1))
    assert again is None
    with db.session() as s:
        row = tasks.get_task(s, first)
    assert (row.owner_employee_id, row.owner_name, row.priority, row.reason, row.status) == (
        sam, "Sam", Decimal("321.00"), "Because manual:1", "open")


def test_create_task_refuses_bad_input_and_erased_customers(db: Database, settings) -> None:
    with db.session(write=True) as s:
        ann, bo = customer(s, "Ann"), customer(s, "Bo")
    with db.session(write=True) as s:
        erase_customer(s, bo, by_user_id=None, secret=settings.secret_key.get_secret_value())
    for kwargs, error in (({"kind": "sing"}, ValidationFailed), ({"dedupe_key": ""}, ValidationFailed),
                          ({"reason": " "}, ValidationFailed), ({"customer_id": bo}, NotFound),
                          ({"customer_id": 99999}, NotFound)):
        args = {"dedupe_key": "k", "customer_id": ann, "rule": "manual", "kind": "call", "reason": "why",
                "script": "", "due_on": TODAY, **kwargs}
        with db.session(write=True) as s, pytest.raises(error):
            tasks.create_task(s, **args)


def test_two_writers_at_once_make_one_task(db: Database) -> None:
    with db.session(write=True) as s:
        ann = customer(s, "Ann")
    barrier = threading.Barrier(2)
    got: list[int | None] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with db.session(write=True) as s:
                barrier.wait(timeout=10)
                got.append(tasks.create_task(s, dedupe_key="race:1", customer_id=ann, rule="manual", kind="call",
                                             reason=f"writer {n}", script="", due_on=TODAY))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(got) == 2
    assert sorted(got, key=lambda v: v is None)[1] is None and sum(v is not None for v in got) == 1
    with db.session() as s:
        assert len(s.scalars(select(Task)).all()) == 1


def test_lists_by_owner_due_day_and_status_soonest_first(db: Database) -> None:
    with db.session(write=True) as s:
        sam, jo = employee(s, "Sam"), employee(s, "Jo")
        ann = customer(s, "Ann")
        late = make(s, ann, "late", due=TODAY - timedelta(days=2), owner=sam, priority="5")
        today_big = make(s, ann, "big", due=TODAY, owner=sam, priority="500")
        today_small = make(s, ann, "small", due=TODAY, owner=sam, priority="50")
        later = make(s, ann, "later", due=TODAY + timedelta(days=5), owner=sam)
        jos = make(s, ann, "jo", owner=jo)
        nobody = make(s, ann, "nobody")
        done = make(s, ann, "done", owner=sam)
        tasks.complete_task(s, done, clock=fixed(at(TODAY)))
    with db.session() as s:
        mine = [t.id for t in tasks.list_tasks(s, today=TODAY, owner_id=sam)]
        due_now = [t.id for t in tasks.list_tasks(s, today=TODAY, owner_id=sam, due_by=TODAY)]
        unowned = [t.id for t in tasks.list_tasks(s, today=TODAY, unowned=True)]
        everyone = {t.id for t in tasks.list_tasks(s, today=TODAY)}
        finished = [t.id for t in tasks.list_tasks(s, today=TODAY, status="done")]
        with pytest.raises(ValidationFailed, match="status"):
            tasks.list_tasks(s, today=TODAY, status="closed")
    assert mine == [late, today_big, today_small, later]
    assert due_now == [late, today_big, today_small]
    assert unowned == [nobody] and everyone == {late, today_big, today_small, later, jos, nobody}
    assert finished == [done]


def test_a_snoozed_task_comes_back_on_its_day(db: Database) -> None:
    with db.session(write=True) as s:
        task = make(s, customer(s, "Ann"), "snooze")
        with pytest.raises(ValidationFailed, match="after today"):
            tasks.snooze_task(s, task, TODAY, clock=fixed(at(TODAY)))
        with pytest.raises(ValidationFailed, match="a year"):
            tasks.snooze_task(s, task, TODAY + timedelta(days=400), clock=fixed(at(TODAY)))
        tasks.snooze_task(s, task, TODAY + timedelta(days=3), clock=fixed(at(TODAY)))
    for day, expected in ((TODAY, []), (TODAY + timedelta(days=2), []), (TODAY + timedelta(days=3), [task]),
                          (TODAY + timedelta(days=9), [task])):
        with db.session() as s:
            assert [t.id for t in tasks.list_tasks(s, today=day, due_by=day)] == expected, day
            assert [t.id for t in tasks.quiet_hour_queue(s, today=day)] == expected, day
            assert tasks.count_due(s, today=day) == len(expected)
    with db.session() as s:
        assert [t.id for t in tasks.list_tasks(s, today=TODAY, status="snoozed")] == [task]
        assert tasks.get_task(s, task).due == TODAY + timedelta(days=3)


def test_the_queue_deals_the_best_tasks_round_the_staff(db: Database) -> None:
    with db.session(write=True) as s:
        sam, jo = employee(s, "Sam"), employee(s, "Jo")
        ann = customer(s, "Ann")
        sams = [make(s, ann, f"sam{n}", owner=sam, priority=str(1000 - n)) for n in range(4)]  # all the top ones
        jos = [make(s, ann, f"jo{n}", owner=jo, priority=str(10 - n)) for n in range(2)]
        nobodys = make(s, ann, "nobody", priority="20", due=TODAY - timedelta(days=1))
        make(s, ann, "future", owner=jo, priority="5000", due=TODAY + timedelta(days=1))
    with db.session() as s:
        queue = [t.id for t in tasks.quiet_hour_queue(s, today=TODAY)]
        short = [t.id for t in tasks.quiet_hour_queue(s, today=TODAY, limit=4)]
    assert queue == [sams[0], nobodys, jos[0], sams[1], jos[1], sams[2], sams[3]]
    assert short == queue[:4]


def test_the_queue_puts_the_older_of_two_equal_tasks_first(db: Database) -> None:
    with db.session(write=True) as s:
        ann = customer(s, "Ann")
        newer = make(s, ann, "newer", priority="10", due=TODAY)
        older = make(s, ann, "older", priority="10", due=TODAY - timedelta(days=3))
    with db.session() as s:
        assert [t.id for t in tasks.quiet_hour_queue(s, today=TODAY)] == [older, newer]


def test_completing_a_call_logs_a_moment_of_truth_by_whoever_made_it(db: Database) -> None:
    with db.session(write=True) as s:
        sam, jo = employee(s, "Sam"), employee(s, "Jo", email="Jo@Shop.example")
        ann = customer(s, "Ann")
        user = User(email="jo@shop.example", role="staff", password_hash="x", created_at=at(TODAY))
        s.add(user)
        s.flush()
        call, note = make(s, ann, "call", owner=sam), make(s, ann, "note", owner=sam, kind="note")
        done = tasks.complete_task(s, call, rating="magic", note="Loves the boots", user_id=user.id,
                                   clock=fixed(at(TODAY, 11)))
        written = tasks.complete_task(s, note, clock=fixed(at(TODAY, 12)))
        with pytest.raises(Conflict, match="already done"):
            tasks.complete_task(s, call, rating="magic")
    assert (done.status, done.outcome_note, done.done_at) == ("done", "Loves the boots", at(TODAY, 11))
    with db.session() as s:
        moment = s.get(Interaction, done.interaction_id)
        card = s.get(Interaction, written.interaction_id)
        assert s.get(Task, call).done_by == user.id
    assert moment is not None and card is not None
    assert (moment.customer_id, moment.channel, moment.kind, moment.rating, moment.note, moment.employee_id) == (
        ann, "phone", "courtesy_call", 1, "Loves the boots", jo)  # Jo made the call, not Sam who owns it
    assert (card.channel, card.kind, card.rating, card.employee_id) == ("other", "other", None, sam)


def test_a_bad_rating_or_long_note_changes_nothing(db: Database) -> None:
    with db.session(write=True) as s:
        call = make(s, customer(s, "Ann"), "call")
    for kwargs, field in (({"rating": "great"}, "rating"), ({"note": "x" * 501}, "note")):
        with db.session(write=True) as s, pytest.raises(ValidationFailed) as caught:
            tasks.complete_task(s, call, **kwargs)
        assert caught.value.field == field
    with db.session() as s:
        assert s.get(Task, call).status == "open" and s.scalars(select(Interaction)).all() == []


def test_reassign_to_active_staff_or_nobody_and_dismiss(db: Database) -> None:
    with db.session(write=True) as s:
        sam, gone = employee(s, "Sam"), employee(s, "Gone", active=False)
        task = make(s, customer(s, "Ann"), "t")
        assert tasks.reassign_task(s, task, sam).owner_name == "Sam"
        with pytest.raises(ValidationFailed, match="no active employee"):
            tasks.reassign_task(s, task, gone)
        assert tasks.reassign_task(s, task, None).owner_employee_id is None
        assert tasks.active_employees(s) == [(sam, "Sam")]
        dismissed = tasks.dismiss_task(s, task, note="Moved away", clock=fixed(at(TODAY)))
        with pytest.raises(Conflict, match="already dismissed"):
            tasks.snooze_task(s, task, TODAY + timedelta(days=2), clock=fixed(at(TODAY)))
        with pytest.raises(NotFound):
            tasks.dismiss_task(s, 424242)
    assert (dismissed.status, dismissed.outcome_note) == ("dismissed", "Moved away")
    with db.session() as s:
        assert s.scalars(select(Interaction)).all() == []  # dismissing logs nothing


def test_users_and_employees_are_linked_by_email(db: Database) -> None:
    with db.session(write=True) as s:
        old = employee(s, "Old Jo", email="jo@shop.example", active=False)
        jo = employee(s, "Jo", email="JO@shop.example")
        assert tasks.employee_for_email(s, " Jo@Shop.Example ").id == jo
        assert tasks.employee_for_email(s, "nobody@shop.example") is None
        with pytest.raises(NotFound, match="No employee has the e-mail address"):
            tasks.find_employee(s, "nobody@shop.example")
    assert old != jo


def test_parse_day_names_the_format() -> None:
    assert tasks.parse_day(" 2026-12-24 ", "Due by", "due_by") == date(2026, 12, 24)
    with pytest.raises(ValidationFailed, match="use YYYY-MM-DD") as caught:
        tasks.parse_day("24/12/2026", "Due by", "due_by")
    assert caught.value.field == "due_by"


def test_erased_customers_tasks_are_not_listed(db: Database, settings) -> None:
    with db.session(write=True) as s:
        ann, bo = customer(s, "Ann"), customer(s, "Bo")
        keep = make(s, ann, "a")
        make(s, bo, "b")
    with db.session(write=True) as s:
        erase_customer(s, bo, by_user_id=None, secret=settings.secret_key.get_secret_value(),
                       clock=fixed(datetime(2026, 3, 2, tzinfo=UTC)))
    with db.session() as s:
        assert [t.id for t in tasks.list_tasks(s, today=TODAY)] == [keep]
        assert tasks.count_due(s, today=TODAY) == 1


def test_one_customers_open_tasks_are_the_open_list_narrowed_to_them(db: Database) -> None:
    """The profile's list (a statement built once, the day bound) agrees with the general one on every day."""
    with db.session(write=True) as s:
        sam = employee(s, "Sam")
        ann, bo = customer(s, "Ann"), customer(s, "Bo")
        made = [make(s, ann, "late", due=TODAY - timedelta(days=2), owner=sam, priority="5"),
                make(s, ann, "big", priority="500"), make(s, ann, "later", due=TODAY + timedelta(days=5)),
                make(s, bo, "bo's")]
        snoozed, done, dismissed = (make(s, ann, key) for key in ("snoozed", "done", "dismissed"))
        tasks.snooze_task(s, snoozed, TODAY + timedelta(days=3), clock=fixed(at(TODAY)))
        tasks.complete_task(s, done, clock=fixed(at(TODAY)))
        tasks.dismiss_task(s, dismissed, clock=fixed(at(TODAY)))
    shown: dict[date, set[int]] = {}
    for day in (TODAY, TODAY + timedelta(days=3)):
        with db.session() as s:
            mine = tasks.list_tasks(s, today=day, customer_id=ann)
            everyone = [t for t in tasks.list_tasks(s, today=day) if t.customer_id == ann]
            assert mine == everyone and mine[0].customer_name == "Ann", day
            assert [t.id for t in tasks.list_tasks(s, today=day, customer_id=ann, limit=2)] == [t.id for t in mine[:2]]
        shown[day] = {t.id for t in mine}
    assert shown[TODAY] == set(made[:3])
    assert shown[TODAY + timedelta(days=3)] == {*made[:3], snoozed}  # the snooze has ended
