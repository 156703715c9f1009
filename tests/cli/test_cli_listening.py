"""`ravingfans survey analyse` and `ravingfans survey results`, through cli.main, on a small demo business."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from ravingfans.db import Database
from ravingfans.db.models import AnswerInsight, FeedbackTheme, SurveyResponse
from ravingfans.demo.generator import generate
from ravingfans.demo.load import load

Run = Callable[[list[str]], int]


@pytest.fixture(scope="module")
def business():
    return generate(seed=5, customers=600, years=2)


@pytest.fixture
def shop(db: Database, database_url: str, business, monkeypatch: pytest.MonkeyPatch) -> None:
    load(business, db.engine)
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    monkeypatch.setenv("RAVINGFANS_TIME_ZONE", business.time_zone)


def test_analyse_then_results_as_json_and_table(shop: None, db: Database, run_cli: Run,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["survey", "results", "--format", "json"]) == 0
    before = json.loads(capsys.readouterr().out)
    with db.session() as s:
        answers = s.scalar(select(func.count()).select_from(SurveyResponse))
    assert before["responses"] == answers > 0 and before["pending"] == answers and before["themes"] == []

    assert run_cli(["survey", "analyse"]) == 0
    err = capsys.readouterr().err
    assert f"Analysed {answers} answers (lexicon)" in err
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AnswerInsight)) == answers
        themes = s.scalar(select(func.count()).select_from(FeedbackTheme))
    assert themes >= 2

    assert run_cli(["survey", "results", "--format", "json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["pending"] == 0 and len(after["themes"]) == themes
    assert after["nps"]["n"] == answers and -100 <= after["nps"]["nps"] <= 100
    assert after["nps"]["low"] <= after["nps"]["nps"] <= after["nps"]["high"]
    assert after["requests_total"] > 0 and after["requests"][0]["text"]

    assert run_cli(["survey", "results"]) == 0
    out = capsys.readouterr()
    assert "NPS by month" in out.out and "Themes" in out.out and f"{answers} answers; NPS" in out.err

    assert run_cli(["survey", "results", "--since", "2999-01-01", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["responses"] == 0


def test_bad_options_are_refused_by_name(shop: None, run_cli: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["survey", "results", "--since", "last week"]) != 0
    assert "--since 'last week' is not a date" in capsys.readouterr().err
    assert run_cli(["survey", "results", "--since", "2025-05-02", "--until", "2025-05-01"]) != 0
    assert "before since" in capsys.readouterr().err
    assert run_cli(["survey", "analyse", "--method", "magic"]) == 2


def test_the_survey_group_is_shared_with_the_other_survey_commands() -> None:
    from ravingfans.cli import COMMAND_MODULES, commands_of

    group = commands_of(COMMAND_MODULES["survey"])["survey"]
    assert {"results", "analyse", "send", "answer"} <= set(group.commands)  # type: ignore[attr-defined]
