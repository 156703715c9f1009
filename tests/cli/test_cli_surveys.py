"""`ravingfans survey list|open|close|send|remind|answer`, run in-process through cli.main."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ravingfans.db import Database
from ravingfans.db.models import Customer, Employee, OutboxMessage, SurveyInvitation, SurveyResponse
from ravingfans.services.surveys import QuestionSpec, create_survey, default_survey

Run = Callable[[list[str]], int]
NOW = datetime.now(UTC)


@pytest.fixture
def cli_db(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The test database, with the CLI pointed at it and a postal address for marketing mail."""
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    monkeypatch.setenv("RAVINGFANS_BUSINESS_ADDRESS", "1 High Street, Springfield")
    monkeypatch.setenv("RAVINGFANS_PUBLIC_URL", "https://shop.example")
    return db


def _customer(db: Database, first: str, email: str | None, consent: bool | None) -> int:
    with db.session(write=True) as s:
        c = Customer(first_name=first, email=email, email_consent=consent, created_at=NOW, updated_at=NOW)
        s.add(c)
        s.flush()
        return c.id


def test_list_shows_the_default_survey(run_cli: Run, cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["survey", "list"]) == 0
    out = capsys.readouterr().out
    assert "#1 How are we doing? (default) · open · asked 0 · answered 0" in out
    assert "1. How are we doing? (nps, required)" in out and "2. How can we do better? (text)" in out


def test_send_dry_run_then_send_to_chosen_customers(run_cli: Run, cli_db: Database,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    yes = _customer(cli_db, "Ann", "ann@example.com", True)
    no = _customer(cli_db, "Ben", "ben@example.com", False)
    bare = _customer(cli_db, "Cat", None, True)
    ids = [arg for cid in (yes, no, bare) for arg in ("--customer", str(cid))]
    assert run_cli(["survey", "send", *ids, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Would send survey 1 to 1 of 3 customers" in out
    assert "no e-mail consent: 1" in out and "no usable e-mail address: 1" in out
    with cli_db.session() as s:
        assert s.scalars(select(OutboxMessage)).all() == []
    assert run_cli(["survey", "send", *ids]) == 0
    assert "Sent survey 1 to 1 of 3" in capsys.readouterr().out
    assert run_cli(["survey", "send", "--customer", str(yes)]) == 0
    assert "already invited to this survey: 1" in capsys.readouterr().out
    with cli_db.session() as s:
        assert [m.to_address for m in s.scalars(select(OutboxMessage))] == ["ann@example.com"]


def test_send_needs_exactly_one_audience(run_cli: Run, cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["survey", "send"]) == 2
    assert "Choose exactly one audience" in capsys.readouterr().err
    assert run_cli(["survey", "send", "--fans", "--slipping"]) == 2
    assert "got --slipping, --fans" in capsys.readouterr().err
    assert run_cli(["survey", "send", "--segment", "Champions", "--dry-run"]) == 4
    assert "Nobody has been scored yet" in capsys.readouterr().err
    assert run_cli(["survey", "send", "--survey", "77", "--customer", "1"]) == 4
    assert "no survey number 77" in capsys.readouterr().err


def test_a_draft_must_be_opened_before_sending_and_closing_ends_it(run_cli: Run, cli_db: Database,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ann = _customer(cli_db, "Ann", "ann@example.com", True)
    with cli_db.session(write=True) as s:
        draft = create_survey(s, name="Fit", title="Fit", questions=[QuestionSpec("csat", "Fit?")]).id
    assert run_cli(["survey", "send", "--survey", str(draft), "--customer", str(ann)]) == 1
    assert f"ravingfans survey open {draft}" in capsys.readouterr().err
    assert run_cli(["survey", "open", str(draft)]) == 0
    assert run_cli(["survey", "send", "--survey", str(draft), "--customer", str(ann)]) == 0
    assert run_cli(["survey", "close", str(draft)]) == 0
    assert run_cli(["survey", "answer", str(ann), "--survey", str(draft), "--answer", "1=4"]) == 1
    assert "not open" in capsys.readouterr().err


def test_remind_reminds_once(run_cli: Run, cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    ann = _customer(cli_db, "Ann", "ann@example.com", True)
    assert run_cli(["survey", "send", "--customer", str(ann)]) == 0
    with cli_db.session(write=True) as s:  # invited eight days ago
        invitation = s.scalar(select(SurveyInvitation))
        assert invitation is not None
        invitation.sent_at = NOW - timedelta(days=8)
    capsys.readouterr()
    assert run_cli(["survey", "remind", "--dry-run"]) == 0
    assert "Would remind 1 customer(s)." in capsys.readouterr().out
    assert run_cli(["survey", "remind"]) == 0
    assert "Reminded 1 customer(s)." in capsys.readouterr().out
    assert run_cli(["survey", "remind", "--survey", "1"]) == 0
    assert "Reminded 0 customer(s)." in capsys.readouterr().out
    with cli_db.session() as s:
        assert len(s.scalars(select(OutboxMessage)).all()) == 2


def test_answer_records_a_store_answer_and_can_change_it(run_cli: Run, cli_db: Database,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    ben = _customer(cli_db, "Ben", None, None)
    with cli_db.session(write=True) as s:
        clerk = Employee(name="Sam", source="t", external_id="E1", created_at=NOW)
        s.add(clerk)
        s.flush()
        clerk_id = clerk.id
    assert run_cli(["survey", "answer", str(ben), "--nps", "10", "--text", "Lovely staff",
                    "--employee", str(clerk_id)]) == 0
    assert "Recorded customer" in capsys.readouterr().err
    assert run_cli(["survey", "answer", str(ben), "--channel", "phone", "--answer", "1=7"]) == 0
    assert "Changed customer" in capsys.readouterr().err
    with cli_db.session(write=True) as s:
        response = s.scalar(select(SurveyResponse))
        assert response is not None and response.nps == 7 and response.channel == "phone"
        nps_q = default_survey(s).questions[0].id
        assert response.answers == {str(nps_q): 7}


@pytest.mark.parametrize(("args", "message"), [
    (["--nps", "11"], "Please pick a number from 0 to 10."),
    (["--answer", "9=x"], "question number from 1 to 2"),
    (["--answer", "nonsense"], "QUESTION=VALUE"),
    (["--user", "nobody@example.com", "--nps", "5"], "no user"),
    (["--employee", "999", "--nps", "5"], "no employee number 999"),
    ([], "Please answer this question."),
])
def test_answer_refuses_bad_input_with_a_message(run_cli: Run, cli_db: Database, capsys: pytest.CaptureFixture[str],
                                                 args: list[str], message: str) -> None:
    ben = _customer(cli_db, "Ben", None, None)
    assert run_cli(["survey", "answer", str(ben), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with cli_db.session() as s:
        assert s.scalar(select(SurveyResponse)) is None


def test_send_to_a_saved_list_in_a_csv_file(run_cli: Run, cli_db: Database, tmp_path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ann = _customer(cli_db, "Ann", "ann@example.com", True)
    ben = _customer(cli_db, "Ben", "ben@example.com", True)
    saved = tmp_path / "fans.csv"
    saved.write_text(f"rank,customer_id,name\r\n1,{ann},Ann\r\n2,{ben},Ben\r\n3,{ann},Ann again\r\n", encoding="utf-8")
    assert run_cli(["survey", "send", "--customers-file", str(saved)]) == 0
    assert "Sent survey 1 to 2 of 2 customers" in capsys.readouterr().out
    with cli_db.session() as s:
        assert sorted(m.to_address for m in s.scalars(select(OutboxMessage))) == ["ann@example.com", "ben@example.com"]

    bad = tmp_path / "bad.csv"
    bad.write_text(f"customer_id\n{ann}\nseven\n", encoding="utf-8")
    assert run_cli(["survey", "send", "--customers-file", str(bad)]) != 0
    assert "line 3: 'seven' is not a customer number" in capsys.readouterr().err
    headless = tmp_path / "headless.csv"
    headless.write_text("name\nAnn\n", encoding="utf-8")
    assert run_cli(["survey", "send", "--customers-file", str(headless)]) != 0
    assert "no customer_id column" in capsys.readouterr().err
