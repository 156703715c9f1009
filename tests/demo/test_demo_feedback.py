"""The demo's survey answers: planted themes and sentiment, fans answering more than lapsing fans, loaded row for row."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from ravingfans.db import make_engine, open_database
from ravingfans.db.models import Customer, SurveyInvitation, SurveyResponse
from ravingfans.demo import DemoBusiness, generate
from ravingfans.demo.feedback import EMPTY_ANSWERS, THEMES
from ravingfans.demo.load import load


@pytest.fixture(scope="module")
def shop() -> DemoBusiness:
    return generate(seed=11, customers=1200, years=2)


def test_same_seed_same_answers(shop: DemoBusiness) -> None:
    again = generate(seed=11, customers=1200, years=2)
    assert again.survey_answers == shop.survey_answers
    assert generate(seed=12, customers=1200, years=2).survey_answers != shop.survey_answers


def test_answers_carry_their_planted_truth(shop: DemoBusiness) -> None:
    answered = [a for a in shop.survey_answers if a.answer is not None]
    assert len(answered) > 50
    for a in answered:
        planted = a.answer
        assert planted is not None and 0 <= planted.score <= 10
        assert shop.truth.answer_theme[a.customer_key] == planted.theme
        if planted.theme is None:
            assert planted.text in EMPTY_ANSWERS and planted.positive is None
        else:
            praise, complaint, requests = THEMES[planted.theme]
            bank = requests if planted.request else praise if planted.positive else complaint
            assert any(planted.text == p.format(staff=planted.text.split()[0]) or "{staff}" in p for p in bank)
    themes = Counter(a.answer.theme for a in answered if a.answer is not None)
    assert len([t for t in themes if t is not None]) == len(THEMES)


def test_fans_answer_more_than_lapsing_fans(shop: DemoBusiness) -> None:
    kind = shop.truth.segment_kind
    asked = Counter(kind[a.customer_key] for a in shop.survey_answers if a.channel == "email")
    answered = Counter(kind[a.customer_key] for a in shop.survey_answers if a.channel == "email" and a.answer)
    assert answered["fan"] / asked["fan"] > 2 * answered["lapsing fan"] / asked["lapsing fan"]


def test_only_consenting_customers_are_invited_by_email(shop: DemoBusiness) -> None:
    consent = {c.key: bool(c.email_consent and c.email) for c in shop.customers}
    assert all(consent[a.customer_key] for a in shop.survey_answers if a.channel == "email")
    assert not any(consent[a.customer_key] for a in shop.survey_answers if a.channel == "store")


def test_load_writes_the_answers_to_the_default_survey(database_url: str, shop: DemoBusiness) -> None:
    engine = make_engine(database_url)
    try:
        load(shop, engine)
    finally:
        engine.dispose()
    db = open_database(database_url)
    try:
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(SurveyInvitation)) == shop.counts()["survey_invitations"]
            rows = s.execute(select(Customer.external_id, SurveyResponse.nps, SurveyResponse.answers)
                             .join(Customer, Customer.id == SurveyResponse.customer_id)).all()
    finally:
        db.dispose()
    planted = {a.customer_key: a.answer for a in shop.survey_answers if a.answer is not None}
    assert len(rows) == len(planted)
    for key, score, answers in rows:
        assert score == planted[key].score
        assert planted[key].text in answers.values()
