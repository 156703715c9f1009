"""Task pages (SQLite and PostgreSQL): My tasks, the quiet-hour queue, the forms that work a task, the rules page."""

from __future__ import annotations

import html
import shutil
import warnings
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from signin import sign_in_as, sign_in_page
from sqlalchemy import select

from ravingfans.clock import fixed
from ravingfans.db import Database
from ravingfans.db.models import Employee, FollowUpRule, Interaction, Task
from ravingfans.services import rules, tasks
from ravingfans.web.auth import CSRF_HEADER

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 10:00 on 2 March in Tokyo (the test app's zone)
TODAY = date(2026, 3, 2)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def add_task(db: Database, customer_id: int, key: str, *, owner: int | None = None, due: date = TODAY,
             priority: str = "0", kind: str = "call", reason: str | None = None) -> int:
    with db.session(write=True) as s:
        made = tasks.create_task(s, dedupe_key=key, customer_id=customer_id, rule="courtesy_call", kind=kind,
                                 reason=reason or f"Reason {key}", script=f"Script {key}", due_on=due,
                                 owner_employee_id=owner, priority=Decimal(priority), clock=fixed(NOW))
    assert made is not None
    return made


def at_now(client: TestClient) -> TestClient:
    client.app.state.clock = fixed(NOW)  # type: ignore[attr-defined]
    return client


def task(db: Database, task_id: int) -> Task:
    with db.session() as s:
        found = s.get(Task, task_id)
    assert found is not None
    return found


def link_employee(db: Database, name: str, email: str) -> int:
    with db.session(write=True) as s:
        row = Employee(name=name, email=email, source="test", external_id=name, created_at=NOW)
        s.add(row)
        s.flush()
        return row.id


def test_my_tasks_are_the_users_employee_records(db: Database, shop: Any, client_as: Any) -> None:
    jo = link_employee(db, "Jo Counter", "Jo@Shoe.example")
    mine = add_task(db, shop.ada, "mine", owner=jo, priority="50")
    theirs = add_task(db, shop.grace, "theirs", owner=shop.employee)
    nobodys = add_task(db, shop.linus, "nobody")
    later = add_task(db, shop.ada, "later", owner=jo, due=TODAY + timedelta(days=3))
    staff = at_now(client_as("staff"))
    sign_in_as(staff, db, "staff", "jo@shoe.example")
    page = staff.get("/tasks")
    assert page.status_code == 200 and "<h1>My tasks</h1>" in page.text
    assert f'id="task-{mine}"' in page.text and f'id="task-{theirs}"' not in page.text
    assert f'id="task-{nobodys}"' not in page.text and f'id="task-{later}"' not in page.text  # due in 3 days
    week = staff.get("/tasks", params={"due": "week"})
    assert f'id="task-{later}"' in week.text
    everyone = staff.get("/tasks", params={"owner": "all"})
    assert all(f'id="task-{t}"' in everyone.text for t in (mine, theirs, nobodys))
    sams = staff.get("/tasks", params={"owner": str(shop.employee)})
    assert "Sam Seller&#39;s tasks" in sams.text and f'id="task-{theirs}"' in sams.text
    assert f'id="task-{mine}"' not in sams.text


def test_a_user_with_no_employee_sees_the_unowned_tasks(db: Database, shop: Any, client_as: Any) -> None:
    nobodys = add_task(db, shop.linus, "nobody", reason="Bought Trail boots for €129 on 16 Feb")
    owned = add_task(db, shop.ada, "owned", owner=shop.employee)
    staff = at_now(client_as("staff"))
    page = staff.get("/tasks")
    assert "<h1>Unowned tasks</h1>" in page.text and 'id="no-employee"' in page.text
    assert f'id="task-{nobodys}"' in page.text and f'id="task-{owned}"' not in page.text
    assert "Bought Trail boots for €129 on 16 Feb" in page.text and "Script nobody" in page.text
    assert staff.get("/tasks", params={"owner": "me"}).status_code == 422
    assert staff.get("/tasks", params={"owner": "99999"}).status_code == 422
    assert staff.get("/tasks", params={"due": "someday"}).status_code == 422


def test_done_with_a_rating_logs_the_call_and_goes_back(db: Database, shop: Any, client_as: Any) -> None:
    call = add_task(db, shop.ada, "call", owner=shop.employee)
    staff = at_now(client_as("staff"))
    answer = staff.post(f"/tasks/{call}/done", data={"rating": "magic", "note": "Boots are great",
                                                     "back": "/tasks?owner=all"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/tasks?owner=all&saved=done&task={call}"
    done = task(db, call)
    assert (done.status, done.outcome_note, done.done_at) == ("done", "Boots are great", NOW)
    with db.session() as s:
        moment = s.get(Interaction, done.interaction_id)
    assert moment is not None
    assert (moment.customer_id, moment.channel, moment.kind, moment.rating, moment.employee_id) == (
        shop.ada, "phone", "courtesy_call", 1, shop.employee)
    again = staff.post(f"/tasks/{call}/done", data={"rating": "misery"})
    assert again.status_code == 303 and "saved=already" in again.headers["location"]
    shown = staff.get(again.headers["location"])
    assert "already closed" in shown.text


def test_a_bad_rating_is_refused_and_nothing_changes(db: Database, shop: Any, client_as: Any) -> None:
    call = add_task(db, shop.ada, "call")
    staff = at_now(client_as("staff"))
    answer = staff.post(f"/tasks/{call}/done", data={"rating": "superb"})
    assert answer.status_code == 422 and "Rating" in html.unescape(answer.text)
    assert task(db, call).status == "open"


def test_snooze_reassign_and_dismiss(db: Database, shop: Any, client_as: Any) -> None:
    first, second, third = (add_task(db, shop.ada, f"t{n}") for n in range(3))
    staff = at_now(client_as("staff"))
    assert staff.post(f"/tasks/{first}/snooze", data={"days": "7", "back": "/tasks/queue"}).headers["location"] == \
        f"/tasks/queue?saved=snoozed&task={first}"
    assert (task(db, first).status, task(db, first).snoozed_until) == ("snoozed", TODAY + timedelta(days=7))
    staff.post(f"/tasks/{second}/snooze", data={"days": "1", "until": "2026-04-01"})
    assert task(db, second).snoozed_until == date(2026, 4, 1)  # a typed day wins
    assert staff.post(f"/tasks/{second}/snooze", data={"days": "3"}).status_code == 422  # not on the list
    assert staff.post(f"/tasks/{second}/snooze", data={"until": "1 April"}).status_code == 422
    queue = staff.get("/tasks/queue")
    assert f'id="task-{first}"' not in queue.text and f'id="task-{third}"' in queue.text
    assert staff.post(f"/tasks/{third}/reassign", data={"employee_id": str(shop.employee)}).status_code == 303
    assert task(db, third).owner_employee_id == shop.employee
    with db.session() as s:
        gone = s.scalar(select(Employee.id).where(Employee.active.is_(False)))
    refused = staff.post(f"/tasks/{third}/reassign", data={"employee_id": str(gone)})
    assert refused.status_code == 422 and "no active employee" in refused.text
    assert staff.post(f"/tasks/{third}/reassign", data={"employee_id": ""}).status_code == 303
    assert task(db, third).owner_employee_id is None
    assert staff.post(f"/tasks/{third}/dismiss", data={"back": "/tasks"}).status_code == 303
    assert task(db, third).status == "dismissed"
    with db.session() as s:
        assert s.scalars(select(Interaction).where(Interaction.kind == "courtesy_call",
                                                   Interaction.created_at == NOW)).all() == []


def test_forms_go_back_only_to_task_pages_or_a_profile(db: Database, shop: Any, client_as: Any) -> None:
    staff = at_now(client_as("staff"))
    for back, expected in (("https://evil.example/x", "/tasks?"), ("//evil.example", "/tasks?"),
                           (f"/customers/{shop.ada}", f"/customers/{shop.ada}?"), ("/tasks/queue", "/tasks/queue?")):
        made = add_task(db, shop.ada, f"back-{back}")
        location = staff.post(f"/tasks/{made}/dismiss", data={"back": back}).headers["location"]
        assert location.startswith(expected), (back, location)


def test_forms_need_the_csrf_token(db: Database, shop: Any, client_as: Any) -> None:
    call = add_task(db, shop.ada, "call")
    staff = at_now(client_as("staff"))
    del staff.headers[CSRF_HEADER]
    assert staff.post(f"/tasks/{call}/done", data={"rating": "magic"}).status_code == 403
    assert staff.post("/rules/birthday", data={"enabled": "on", "days_before": "7"}).status_code == 403
    assert task(db, call).status == "open"


def test_every_form_on_the_task_pages_carries_the_token_and_labels(db: Database, shop: Any, client_as: Any) -> None:
    add_task(db, shop.ada, "call")
    owner = at_now(client_as("owner"))
    for path in ("/tasks?owner=all", "/tasks/queue", "/rules", f"/customers/{shop.ada}"):
        text = owner.get(path).text
        forms = text.count('<form method="post" action="/tasks/') + text.count('<form method="post" action="/rules/')
        assert forms > 0, path
        tokens = text.count('name="csrf_token"')
        assert tokens >= forms, path


def test_the_queue_deals_round_the_staff_on_its_page(db: Database, shop: Any, client_as: Any) -> None:
    jo = link_employee(db, "Jo", "jo@shoe.example")
    top = [add_task(db, shop.ada, f"sam{n}", owner=shop.employee, priority=str(900 - n)) for n in range(3)]
    small = add_task(db, shop.grace, "jo", owner=jo, priority="1")
    page = at_now(client_as("staff")).get("/tasks/queue")
    order = [t for t in (*top, small) if f'id="task-{t}"' in page.text]
    positions = sorted(order, key=lambda t: page.text.index(f'id="task-{t}"'))
    assert positions == [top[0], small, top[1], top[2]]
    assert "4 tasks due by today" in page.text


def test_staff_read_the_rules_and_managers_change_them(db: Database, shop: Any, client_as: Any) -> None:
    staff, manager = at_now(client_as("staff")), at_now(client_as("manager"))
    read = staff.get("/rules")
    assert read.status_code == 200 and "Courtesy call after a purchase" in read.text
    assert 'action="/rules/' not in read.text
    assert staff.post("/rules/courtesy_call", data={"enabled": "on", "days": "10"}).status_code == 403
    form = manager.get("/rules")
    assert 'action="/rules/courtesy_call"' in form.text
    saved = manager.post("/rules/courtesy_call", data={"enabled": "on", "days": "10", "min_amount": "75",
                                                       "category": "Shoes"})
    assert saved.status_code == 303 and saved.headers["location"].startswith("/rules?saved=rule&rule=courtesy_call")
    with db.session() as s:
        rule = rules.get_rule(s, "courtesy_call")
    assert rule.enabled and rule.params == {"days": 10, "min_amount": "75.00", "category": "Shoes"}
    refused = manager.post("/rules/courtesy_call", data={"days": "0", "min_amount": "cheap"})
    assert refused.status_code == 422 and 'role="alert"' in refused.text and "whole number from 1" in refused.text
    assert 'value="cheap"' in refused.text  # what was typed is shown again, to correct
    with db.session() as s:
        assert rules.get_rule(s, "courtesy_call").enabled  # nothing changed
    off = manager.post("/rules/courtesy_call", data={"days": "10"})  # the box unticked: switched off
    assert off.status_code == 303
    with db.session() as s:
        assert not rules.get_rule(s, "courtesy_call").enabled
        assert s.scalars(select(FollowUpRule)).all()[0].params["days"] == 10
    assert manager.post("/rules/no_such_rule", data={}).status_code == 404


def test_the_profile_lists_the_customers_open_tasks_to_work_there(db: Database, shop: Any, client_as: Any) -> None:
    mine = add_task(db, shop.ada, "ada", reason="Birthday on 9 Mar — send a note.", kind="note")
    other = add_task(db, shop.grace, "grace")
    staff = at_now(client_as("staff"))
    page = staff.get(f"/customers/{shop.ada}")
    assert 'id="tasks"' in page.text and f'id="task-{mine}"' in page.text and f'id="task-{other}"' not in page.text
    assert "Birthday on 9 Mar — send a note." in page.text
    card = page.text.split(f'id="task-{mine}"', 1)[1]
    assert 'name="employee_id"' in card and ">Sam Seller</option>" in card  # the card's staff choice
    assert "Old Timer" not in card  # only active staff can be given a task
    answer = staff.post(f"/tasks/{mine}/done", data={"back": f"/customers/{shop.ada}", "note": "Card sent"})
    assert answer.headers["location"] == f"/customers/{shop.ada}?saved=done&task={mine}#tasks"
    after = staff.get(answer.headers["location"].split("#")[0])
    assert 'id="task-saved"' in after.text and f'id="task-{mine}"' not in after.text


def test_home_shows_the_follow_ups_due(db: Database, shop: Any, client_as: Any) -> None:
    add_task(db, shop.ada, "due", priority="10", reason="Call Ada about the boots")
    add_task(db, shop.grace, "later", due=TODAY + timedelta(days=2))
    page = at_now(client_as("staff")).get("/")
    assert page.status_code == 200
    assert 'id="follow-ups-due">1<' in page.text and "Call Ada about the boots" in page.text
    assert 'href="/tasks/queue"' in page.text


playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
def test_task_pages_have_no_serious_accessibility_violations_and_a_call_is_done_in_three_actions(
        live_server: Any, db: Database, shop: Any) -> None:
    from test_web_accessibility import serious_violations

    call = add_task(db, shop.ada, "a11y", owner=shop.employee, due=datetime.now(UTC).date() - timedelta(days=2),
                    reason="Bought Boots for €120 on 1 Mar — ask how it is holding up.")
    report: dict[str, list[str]] = {}
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_context(base_url=live_server.url, bypass_csp=True).new_page()
            sign_in_page(tab)
            for path in ("/tasks?owner=all&due=all", "/tasks/queue", "/rules"):
                tab.goto(path)
                report[path] = serious_violations(tab)
            tab.goto("/tasks/queue")
            card = tab.locator(f"#task-{call}")
            card.get_by_role("radio", name="Magic").check()  # 1
            card.get_by_label("What was said").fill("Loves them")  # 2
            card.get_by_role("button", name="Done").click()  # 3
            tab.wait_for_url(lambda url: "saved=done" in url)
        finally:
            browser.close()
    assert report == {path: [] for path in report} and len(report) == 3
    assert task(db, call).status == "done" and task(db, call).outcome_note == "Loves them"
