"""`ravingfans gifts add|list|retire` and `ravingfans campaign create|start|list|show|redeem|close`, in-process."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))  # the campaign test builders
from helpers_campaigns import add_customer, add_order, add_run  # noqa: E402

from ravingfans.db import Database  # noqa: E402
from ravingfans.db.models import Campaign, CampaignMember, OutboxMessage, Task  # noqa: E402

Run = Callable[[list[str]], int]


@pytest.fixture
def cli_db(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The test database, with the CLI pointed at it and a postal address for marketing mail."""
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    monkeypatch.setenv("RAVINGFANS_BUSINESS_ADDRESS", "1 High Street, Springfield")
    monkeypatch.setenv("RAVINGFANS_PUBLIC_URL", "https://shop.example")
    return db


@pytest.fixture
def lost(cli_db: Database) -> list[int]:
    """40 lost customers who agreed to e-mail and one who did not, in a scoring run."""
    with cli_db.session(write=True) as s:
        ids = [add_customer(s, f"Lost{n}") for n in range(40)]
        shy = add_customer(s, "Shy", consent=False)
        add_run(s, {c: "Lost" for c in [*ids, shy]})
    return ids


def test_gifts_add_list_retire(run_cli: Run, cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["gifts", "list"]) == 0
    assert "No gifts yet" in capsys.readouterr().err
    assert run_cli(["gifts", "add", "Ten off", "--kind", "discount_code", "--code", "BACK10", "--value", "10"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "1" and "Gift 1 (Ten off, discount code) added." in captured.err
    assert run_cli(["gifts", "add", "Socks", "--kind", "free_item", "--description", "Wool socks"]) == 0
    capsys.readouterr()
    assert run_cli(["gifts", "add", "Bad", "--kind", "voucher"]) == 2
    assert "A voucher needs its value" in capsys.readouterr().err
    assert run_cli(["gifts", "add", "Ten off", "--kind", "voucher", "--value", "3"]) == 1
    assert "already a gift called" in capsys.readouterr().err
    assert run_cli(["gifts", "retire", "1"]) == 0
    assert "Gift 1 (Ten off) is retired." in capsys.readouterr().err
    assert run_cli(["gifts", "list"]) == 0
    out = capsys.readouterr().out
    assert "#2 Socks · free item · active · 0 campaign(s)" in out and "   Wool socks" in out
    assert "#1 Ten off · discount code · code BACK10 · value 10.00 · retired" in out
    assert run_cli(["gifts", "list", "--active"]) == 0
    assert "Ten off" not in capsys.readouterr().out
    assert run_cli(["gifts", "retire", "9"]) == 4
    assert "no gift number 9" in capsys.readouterr().err


def test_a_campaign_from_dry_run_to_report(run_cli: Run, cli_db: Database, lost: list[int],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["gifts", "add", "Ten off", "--kind", "discount_code", "--code", "BACK10", "--value", "10"]) == 0
    capsys.readouterr()
    assert run_cli(["campaign", "create", "Come back", "--kind", "win_back", "--gift", "1", "--segment", "Lost",
                    "--holdout-share", "0.25", "--seed", "9", "--window-days", "30",
                    "--message", "We restocked your size."]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "1" and "made as a draft: Lost, 25% held out, seed 9" in captured.err
    assert run_cli(["campaign", "start", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Would start campaign 1: 41 customers in the audience, 30 treated and 10 held out." in out
    assert "left out, no e-mail consent: 1" in out
    with cli_db.session() as s:
        assert s.scalar(select(func.count()).select_from(CampaignMember)) == 0
    assert run_cli(["campaign", "start", "1"]) == 0
    captured = capsys.readouterr()
    assert "Started campaign 1" in captured.out and "e-mail queued: 30" in captured.out
    assert "ravingfans outbox send" in captured.err
    assert run_cli(["campaign", "start", "1"]) == 0
    assert "already running: 30 treated, 10 held out; nothing was assigned or sent again." in capsys.readouterr().out
    with cli_db.session(write=True) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 30
        treated = list(s.scalars(select(CampaignMember.customer_id).where(CampaignMember.group == "treated")
                                 .order_by(CampaignMember.customer_id)))
        held = s.scalar(select(CampaignMember.customer_id).where(CampaignMember.group == "holdout"))
        started = s.scalar(select(Campaign.started_at))
        assert started is not None
        order = add_order(s, treated[0], started, "45.00")  # the window opens as it starts
    assert run_cli(["campaign", "redeem", "1", "--customer", str(treated[0]), "--order", str(order)]) == 0
    assert f"Recorded: customer #{treated[0]} redeemed the gift of campaign 1 with order #{order}." in \
        capsys.readouterr().err
    assert run_cli(["campaign", "redeem", "1", "--customer", str(treated[0])]) == 0
    assert "Already recorded" in capsys.readouterr().err
    assert run_cli(["campaign", "redeem", "1", "--customer", str(held)]) == 1
    assert "hold-out group" in capsys.readouterr().err
    assert run_cli(["campaign", "list"]) == 0
    assert "#1 Come back · win-back · running" in capsys.readouterr().out
    assert run_cli(["campaign", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "30 treated, 10 held out, 30 e-mailed, 1 redeemed" in out and "audience: Lost" in out
    assert run_cli(["campaign", "close", "--due"]) == 0
    assert "Closed 0 campaign(s)" in capsys.readouterr().out  # the window is still open
    assert run_cli(["campaign", "close"]) == 2
    assert "Name one campaign to close, or give --due" in capsys.readouterr().err
    assert run_cli(["campaign", "close", "1"]) == 0
    out = capsys.readouterr().out
    assert "Campaign 1 (Come back) is closed." in out and "Not enough customers to tell" in out
    assert "bought in the window" in out and "Revenue per customer: €" not in out  # currency: USD by default
    assert run_cli(["campaign", "show", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "closed" and shown["report"]["lift"]["treated"]["returned"] == 1
    assert shown["report"]["attributed"]["redeemed"] == 1
    assert shown["report"]["attributed"]["redeemed_order_revenue"] == 45.0
    assert run_cli(["campaign", "close", "1"]) == 0  # again: the same report
    capsys.readouterr()
    assert run_cli(["campaign", "show", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["report"] == shown["report"]


def test_task_campaigns_and_errors(run_cli: Run, cli_db: Database, lost: list[int],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["gifts", "add", "Card", "--kind", "note", "--description", "A handwritten card"]) == 0
    capsys.readouterr()
    assert run_cli(["campaign", "create", "Cards", "--kind", "win_back", "--gift", "1", "--segment", "Lost"]) == 2
    assert "a handwritten note is given by staff; choose tasks" in capsys.readouterr().err
    assert run_cli(["campaign", "create", "Cards", "--kind", "appreciation", "--gift", "1", "--segment", "Lost",
                    "--delivery", "task"]) == 2
    assert "'Lost' does not fit a appreciation campaign; choose from Champions" in capsys.readouterr().err
    assert run_cli(["campaign", "create", "Cards", "--kind", "win_back", "--gift", "1", "--segment", "lost",
                    "--delivery", "task", "--holdout-share", "0.5", "--seed", "1"]) == 0
    capsys.readouterr()
    assert run_cli(["campaign", "start", "1"]) == 0
    assert "task #" in capsys.readouterr().out
    with cli_db.session() as s:
        # 41 customers, half of them (20.5, rounded up: 21) held out, 20 treated: one task each.
        assert s.scalar(select(func.count()).select_from(Task).where(Task.campaign_id == 1)) == 20
    assert run_cli(["campaign", "show", "7"]) == 4
    assert "no campaign number 7" in capsys.readouterr().err
    assert run_cli(["campaign", "list"]) == 0
    out = capsys.readouterr().out
    assert "#1 Cards · win-back · running · ends " in out and "20 treated, 21 held out" in out


def test_nothing_to_list(run_cli: Run, cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["campaign", "list"]) == 0
    assert "No campaigns yet" in capsys.readouterr().err
