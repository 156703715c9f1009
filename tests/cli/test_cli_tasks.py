"""`ravingfans rules ...` and `ravingfans tasks ...`, run in-process through cli.main (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from ravingfans.db import Database
from ravingfans.db.models import Customer, Employee, Interaction, Order, OrderLine, Task
from ravingfans.services import rules, tasks

Run = Callable[[list[str]], int]
NOW = datetime.now(UTC)
TODAY = NOW.date()  # the CLI runs on the real clock; the business zone is UTC here


@pytest.fixture
def cli_db(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The test database, with the CLI pointed at it."""
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    return db


def seed(db: Database) -> dict[str, int]:
    """Sam (sam@shop.example) served Ann, who bought boots 14 days ago; Ben has a task of his own."""
    with db.session(write=True) as s:
        sam = Employee(name="Sam", email="sam@shop.example", source="t", external_id="E1", created_at=NOW)
        jo = Employee(name="Jo", email="jo@shop.example", source="t", external_id="E2", created_at=NOW)
        ann = Customer(first_name="Ann", phone="+15035550100", created_at=NOW, updated_at=NOW)
        ben = Customer(first_name="=Ben", created_at=NOW, updated_at=NOW)
        s.add_all([sam, jo, ann, ben])
        s.flush()
        bought = NOW - timedelta(days=14)
        order = Order(source="t", external_id="O1", customer_id=ann.id, employee_id=sam.id, placed_at=bought,
                      total=Decimal("129.00"))
        order.lines.append(OrderLine(line_no=1, kind="sale", product_name="Trail boots", quantity=1,
                                     unit_price=Decimal("129.00"), amount=Decimal("129.00")))
        s.add(order)
        s.flush()
        later = tasks.create_task(s, dedupe_key="manual:ben", customer_id=ben.id, rule="manual", kind="note",
                                  reason="Ask =SUM(A1) about the hat", script="", due_on=TODAY + timedelta(days=3))
        assert later is not None
        return {"sam": sam.id, "jo": jo.id, "ann": ann.id, "ben": ben.id, "later": later}


def test_rules_list_enable_set_disable(run_cli: Run, cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["rules", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in rules.RULES) and "off" in out and "days=14" in out
    assert run_cli(["rules", "enable", "courtesy_call"]) == 0
    assert "Rule courtesy_call is switched on (days=14, min_amount=any, category=any)." in capsys.readouterr().err
    assert run_cli(["rules", "set", "courtesy_call", "days=10", "min_amount=50", "category=Shoes"]) == 0
    assert "days=10, min_amount=50.00 USD, category=Shoes" in capsys.readouterr().err
    assert run_cli(["rules", "set", "courtesy_call", "category="]) == 0
    with cli_db.session() as s:
        rule = rules.get_rule(s, "courtesy_call")
    assert rule.enabled and rule.params == {"days": 10, "min_amount": "50.00", "category": None}
    assert run_cli(["rules", "disable", "courtesy_call"]) == 0
    with cli_db.session() as s:
        assert not rules.get_rule(s, "courtesy_call").enabled


def test_rules_refuse_unknown_names_and_bad_values_naming_the_fix(run_cli: Run, cli_db: Database,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["rules", "enable", "courtesy"]) == 4
    err = capsys.readouterr().err
    assert "no follow-up rule 'courtesy'" in err and "ravingfans rules list" in err
    assert run_cli(["rules", "set", "birthday", "days_before"]) == 2
    assert "write KEY=VALUE" in capsys.readouterr().err
    assert run_cli(["rules", "set", "birthday", "days_before=lots"]) == 2
    assert "whole number from 0 to 60" in capsys.readouterr().err
    assert run_cli(["rules", "run", "--only", "birthday"]) == 2
    assert "ravingfans rules enable birthday" in capsys.readouterr().err
    assert "Traceback" not in capsys.readouterr().err


def test_rules_run_makes_the_courtesy_call_for_who_served(run_cli: Run, cli_db: Database,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    ids = seed(cli_db)
    assert run_cli(["rules", "enable", "courtesy_call"]) == 0
    assert run_cli(["rules", "run"]) == 0
    out = capsys.readouterr().out
    assert f"Follow-up rules on {TODAY.isoformat()}: 1 new task (courtesy_call 1)" in out
    assert "switched off: thank_fans, win_back, birthday, anniversary, misery_call" in out
    assert run_cli(["rules", "run"]) == 0
    assert "0 new tasks; not run: courtesy_call (already run today)" in capsys.readouterr().out
    with cli_db.session() as s:
        made = s.scalars(select(Task).where(Task.rule == "courtesy_call")).one()
    assert (made.customer_id, made.owner_employee_id, made.due_on) == (ids["ann"], ids["sam"], TODAY)


def test_tasks_lists_by_owner_and_due_day_as_a_table_or_csv(run_cli: Run, cli_db: Database,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    ids = seed(cli_db)
    assert run_cli(["rules", "enable", "courtesy_call"]) == 0
    assert run_cli(["rules", "run"]) == 0
    capsys.readouterr()
    assert run_cli(["tasks"]) == 0  # bare `tasks`: open tasks due by today
    out = capsys.readouterr().out
    assert "Trail boots" in out and "Ann" in out and "=Ben" not in out
    assert run_cli(["tasks", "list", "--owner", "SAM@shop.example", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["customer"], r["owner"], r["due_on"], r["phone"]) for r in rows] == [
        ("Ann", "Sam", TODAY.isoformat(), "+15035550100")]
    assert rows[0]["reason"].startswith("Bought Trail boots for $129 on ")
    assert run_cli(["tasks", "--owner", "jo@shop.example"]) == 0
    assert "No tasks due by" in capsys.readouterr().err
    assert run_cli(["tasks", "--due-by", (TODAY + timedelta(days=5)).isoformat(), "--owner", "none",
                    "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["task_id"], r["customer"], r["reason"]) for r in rows] == [
        (str(ids["later"]), "'=Ben", "Ask =SUM(A1) about the hat")]  # a formula-like name neutralised
    assert run_cli(["tasks", "list", "--due-by", "any", "--status", "all", "--format", "csv"]) == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 2


def test_tasks_refuse_bad_dates_and_unknown_owners(run_cli: Run, cli_db: Database,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    seed(cli_db)
    assert run_cli(["tasks", "--due-by", "tomorrow"]) == 2
    assert "use YYYY-MM-DD" in capsys.readouterr().err
    assert run_cli(["tasks", "list", "--owner", "nobody@shop.example"]) == 4
    assert "No employee has the e-mail address" in capsys.readouterr().err
    assert run_cli(["tasks", "list", "--status", "closed"]) == 2
    assert "status: must be one of" in capsys.readouterr().err


def test_done_snooze_reassign_dismiss(run_cli: Run, cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    ids = seed(cli_db)
    with cli_db.session(write=True) as s:
        call = tasks.create_task(s, dedupe_key="manual:ann", customer_id=ids["ann"], rule="manual", kind="call",
                                 reason="Call Ann", script="", due_on=TODAY)
    assert call is not None
    assert run_cli(["tasks", "done", str(call), "--rating", "magic", "--note", "Loves the boots"]) == 0
    assert f"Task #{call} done" in capsys.readouterr().err
    with cli_db.session() as s:
        done = s.get(Task, call)
        moment = s.get(Interaction, done.interaction_id)
    assert (moment.channel, moment.kind, moment.rating, moment.note, moment.employee_id) == (
        "phone", "courtesy_call", 1, "Loves the boots", ids["sam"])
    assert run_cli(["tasks", "done", str(call)]) == 1
    assert "already done" in capsys.readouterr().err
    later = ids["later"]
    assert run_cli(["tasks", "snooze", str(later), "--days", "10"]) == 0
    with cli_db.session() as s:
        assert s.get(Task, later).snoozed_until == TODAY + timedelta(days=10)
    assert run_cli(["tasks", "snooze", str(later), "--until", "2001-01-01"]) == 2
    assert "pick a day after today" in capsys.readouterr().err
    assert run_cli(["tasks", "snooze", str(later)]) == 2
    assert "--until YYYY-MM-DD or --days N" in capsys.readouterr().err
    assert run_cli(["tasks", "reassign", str(later), "--to", "jo@shop.example"]) == 0
    assert "now Jo's" in capsys.readouterr().err
    assert run_cli(["tasks", "reassign", str(later), "--nobody"]) == 0
    with cli_db.session() as s:
        assert s.get(Task, later).owner_employee_id is None
    assert run_cli(["tasks", "dismiss", str(later), "--note", "Moved away"]) == 0
    with cli_db.session() as s:
        assert (s.get(Task, later).status, s.get(Task, later).outcome_note) == ("dismissed", "Moved away")
    assert run_cli(["tasks", "dismiss", "999999"]) == 4
    assert run_cli(["tasks", "done", str(call), "--rating", "superb"]) == 2  # Click refuses the choice


def test_list_options_before_a_command_are_refused_not_ignored(run_cli: Run, cli_db: Database,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    ids = seed(cli_db)
    assert run_cli(["tasks", "--owner", "sam@shop.example", "dismiss", str(ids["later"])]) == 2
    assert "Put the options after the command: ravingfans tasks dismiss" in capsys.readouterr().err
    with cli_db.session() as s:
        assert s.get(Task, ids["later"]).status == "open"
