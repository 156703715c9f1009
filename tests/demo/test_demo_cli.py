"""`ravingfans demo`: builds its own database, reports on it, and refuses to touch real data."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ravingfans.db import open_database
from ravingfans.db.models import Customer, Order
from ravingfans.ingest.layouts import FIELDS, SHOPIFY_CUSTOMER_HEADER, SHOPIFY_ORDER_HEADER

SMALL = ["--customers", "300", "--years", "1"]



def _ravingfans() -> str:
    found = shutil.which("ravingfans") or str(Path(sys.executable).with_name("ravingfans"))
    assert Path(found).exists(), "the ravingfans console script is not installed"
    return found


def _count(url: str, model: type) -> int:
    db = open_database(url)
    try:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(model)) or 0
    finally:
        db.dispose()


def test_demo_no_serve_builds_and_reports(run_cli: Callable[[list[str]], int], database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["demo", "--no-serve", *SMALL, "--database-url", database_url]) == 0
    out, err = capsys.readouterr()
    assert "Building the demo business" in err and "Loaded" in err
    for words in ("Customers", "300", "Orders", "Revenue", "Date range", "Employees", "Lapsed",
                  "Top customers by spend", "ground truth", 'asked "How are we doing?"', "answered; NPS"):
        assert words in out, words
    assert _count(database_url, Customer) == 300
    orders = _count(database_url, Order)
    assert f"{orders:,}" in out
    _assert_the_demo_acts(database_url, err)

    # A second run finds the earlier demo and keeps it; --fresh rebuilds it with the new options.
    assert run_cli(["demo", "--no-serve", *SMALL, "--database-url", database_url]) == 0
    out, err = capsys.readouterr()
    assert "Using the demo built earlier" in err and "Loaded" not in err
    assert _count(database_url, Order) == orders
    assert run_cli(["demo", "--no-serve", "--customers", "120", "--years", "1", "--fresh",
                 "--database-url", database_url]) == 0
    out, err = capsys.readouterr()
    assert "Loaded" in err
    assert _count(database_url, Customer) == 120


def _assert_the_demo_acts(database_url: str, err: str) -> None:
    """The standard follow-up rules are on, today's tasks found, gifts stocked and two campaigns drafted."""
    from sqlalchemy import select

    from ravingfans.db.models import Campaign, FollowUpRule, Gift, Task

    db = open_database(database_url)
    try:
        with db.session() as s:
            rules = dict(s.execute(select(FollowUpRule.name, FollowUpRule.enabled)).all())
            campaigns = dict(s.execute(select(Campaign.kind, Campaign.status)).all())
            tasks = _count(database_url, Task)
            assert rules and all(rules.values()), rules
            assert {"courtesy_call", "win_back", "misery_call"} <= set(rules)
            assert tasks > 0 and f"{tasks} new tasks" in err
            assert _count(database_url, Gift) == 3
            assert campaigns == {"win_back": "draft", "appreciation": "draft"}
            owned = s.execute(select(Task.owner_employee_id).where(Task.rule == "courtesy_call")).scalars().all()
            assert owned and sum(o is not None for o in owned) > len(owned) / 2  # mostly the employee who served
    finally:
        db.dispose()


def test_demo_refuses_a_database_with_real_customers(run_cli: Callable[[list[str]], int], database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = open_database(database_url)
    try:
        with db.session(write=True) as s:
            s.add(Customer(first_name="Real", last_name="Customer", email="real@example.com", source="generic",
                           created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
    finally:
        db.dispose()
    for extra in ([], ["--fresh"]):
        assert run_cli(["demo", "--no-serve", *SMALL, "--database-url", database_url, *extra]) == 2
        err = capsys.readouterr().err
        assert "Refusing to build the demo" in err and "not from the demo" in err
    assert _count(database_url, Customer) == 1
    assert _count(database_url, Order) == 0


def test_demo_writes_both_csv_layouts(run_cli: Callable[[list[str]], int], database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    assert run_cli(["demo", "--no-serve", *SMALL, "--database-url", database_url, "--out-csv", str(out)]) == 0
    expected = {
        "customers.csv": list(FIELDS["customers"]),
        "products.csv": list(FIELDS["products"]),
        "orders.csv": list(FIELDS["orders"]),
        "customers_shopify.csv": SHOPIFY_CUSTOMER_HEADER,
        "orders_shopify.csv": SHOPIFY_ORDER_HEADER,
    }
    for name, header in expected.items():
        with (out / name).open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert rows[0] == header, name
        assert len(rows) > 1 and all(len(r) == len(header) for r in rows), name
    with (out / "customers.csv").open(newline="", encoding="utf-8") as f:
        assert sum(1 for _ in csv.DictReader(f)) == _count(database_url, Customer)


def test_demo_script_uses_its_own_file_in_the_working_directory() -> None:
    script = _ravingfans()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAVINGFANS_")}
    done = subprocess.run([script, "demo", "--no-serve", *SMALL], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "Top customers by spend" in done.stdout
    demo_file = Path.cwd() / "ravingfans-demo.db"
    assert demo_file.exists()
    assert not (Path.cwd() / "ravingfans.db").exists()  # the configured default database is not touched
    assert _count(f"sqlite:///{demo_file}", Customer) == 300
    again = subprocess.run([script, "demo", "--no-serve", *SMALL], capture_output=True, text=True, env=env,
                           timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert "Using the demo built earlier" in again.stderr


def test_demo_refuses_the_configured_database_even_when_empty(run_cli: Callable[[list[str]], int], database_url: str, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    assert run_cli(["demo", "--no-serve", *SMALL, "--database-url", database_url]) == 2
    assert "it is the database ravingfans is configured to use" in capsys.readouterr().err
    assert _count(database_url, Customer) == 0
    # Without --database-url the demo goes to its own file, whatever the settings say.
    assert run_cli(["demo", "--no-serve", *SMALL]) == 0
    assert (Path.cwd() / "ravingfans-demo.db").exists()
    assert _count(database_url, Customer) == 0


def test_the_served_demo_gets_an_owner_with_a_new_password_each_start(run_cli: Callable[[list[str]], int],
                                                                      database_url: str, db: Any) -> None:
    from ravingfans.cli.demo import DEMO_OWNER, _demo_owner
    from ravingfans.services.accounts import list_users, verify_password

    assert run_cli(["demo", "--no-serve", *SMALL, "--database-url", database_url]) == 0
    email, first = _demo_owner(database_url)
    again, second = _demo_owner(database_url)
    assert email == again == DEMO_OWNER and first != second and len(second) >= 17
    with db.session(write=True) as s:
        assert [(u.email, u.role) for u in list_users(s)] == [(DEMO_OWNER, "owner")]
        assert verify_password(s, email, first) is None  # the old password no longer opens it
        assert verify_password(s, email, second) is not None


def test_the_served_demo_offers_a_customers_survey_link_that_opens(run_cli: Callable[[list[str]], int],
                                                                   database_url: str, db: Any) -> None:
    from ravingfans.cli.demo import _demo_survey_link
    from ravingfans.services.surveys import survey_page

    assert run_cli(["demo", "--no-serve", *SMALL, "--database-url", database_url]) == 0
    link = _demo_survey_link(database_url, "0.0.0.0", 8123)
    assert link is not None and link.startswith("http://127.0.0.1:8123/s/")
    with db.session() as s:
        page = survey_page(s, link.rsplit("/", 1)[1])
    assert page.state == "open" and page.first_name
