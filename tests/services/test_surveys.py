"""Surveys: definitions, audiences and their rules, one reminder, answers changed until close, results rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from overlap import overlapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ravingfans.clock import fixed
from ravingfans.config import Settings
from ravingfans.db import Database, make_engine
from ravingfans.db.migrate import upgrade
from ravingfans.db.models import (
    Customer,
    CustomerScore,
    Employee,
    Interaction,
    OutboxMessage,
    Order,
    ScoreRun,
    Survey,
    SurveyInvitation,
    SurveyLink,
    SurveyResponse,
    User,
)
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services import survey_throttle
from ravingfans.services.survey_audiences import Audience, issue_link, remind_due, send_survey
from ravingfans.services.surveys import (
    AnswerProblems,
    QuestionSpec,
    QuestionView,
    SurveyClosed,
    close_survey,
    create_survey,
    default_survey,
    get_survey,
    invitations_frame,
    list_surveys,
    open_survey,
    parse_answers,
    record_answers_for_customer,
    responses_frame,
    submit_answers,
    survey_for_customer,
    survey_page,
    token_hash,
    update_survey,
)

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def conf(database_url: str) -> Settings:
    """Settings that allow marketing mail (a postal address) and give links a public address."""
    return Settings(database_url=database_url, business_address="1 High Street\nSpringfield",
                    business_name="Shoe & Co", public_url="https://shop.example", _env_file=None)


def add_customer(s: Session, first: str, email: str | None, consent: bool | None = True, *,
                 language: str | None = None, erased: bool = False) -> int:
    customer = Customer(first_name=first, last_name="Test", email=email, email_consent=consent, language=language,
                        created_at=T0 - timedelta(days=400), updated_at=T0 - timedelta(days=400),
                        erased_at=T0 - timedelta(days=1) if erased else None)
    s.add(customer)
    s.flush()
    return customer.id


def outbox(s: Session) -> list[OutboxMessage]:
    return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def token_of(message: OutboxMessage) -> str:
    """The survey token in a queued e-mail (as the customer's mail program would show it)."""
    import email
    import re

    parsed = email.message_from_string(message.raw)
    text = next(p for p in parsed.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    return re.search(r"https://shop\.example/s/([A-Za-z0-9_-]+)", text).group(1)  # type: ignore[union-attr]


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    """Customers covering every rule: consent, no consent, unknown consent, no e-mail, erased."""
    with db.session(write=True) as s:
        return {"ada": add_customer(s, "Ada", "ada@example.com", True, language="es"),
                "bob": add_customer(s, "Bob", "bob@example.com", True),
                "cy": add_customer(s, "Cy", "cy@example.com", False),
                "di": add_customer(s, "Di", "di@example.com", None),
                "ed": add_customer(s, "Ed", None, True),
                "gone": add_customer(s, "Gone", "gone@example.com", True, erased=True)}


# --- definitions ------------------------------------------------------------------------------------------------


def test_migration_ships_the_default_survey_with_the_two_questions(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    upgrade(engine)
    with Session(engine) as s:
        survey = s.scalar(select(Survey).where(Survey.key == "default"))
        assert survey is not None and survey.status == "open"
        assert [(q.kind, q.prompt, q.required) for q in survey.questions] == [
            ("nps", "How are we doing?", True), ("text", "How can we do better?", False)]
    engine.dispose()


def test_default_survey_is_translated_and_custom_surveys_are_shown_as_written(db: Database) -> None:
    with db.session(write=True) as s:
        default = default_survey(s)
        assert default_survey(s).id == default.id  # made once
        spanish = get_survey(s, default.id, language="es")
        assert [q.prompt for q in spanish.questions] == ["¿Qué tal lo estamos haciendo?", "¿Cómo podemos mejorar?"]
        custom = create_survey(s, name="Fit", title="How are we doing?",
                               questions=[QuestionSpec("csat", "How are we doing?")], clock=fixed(T0))
        assert get_survey(s, custom.id, language="es").questions[0].prompt == "How are we doing?"
        assert custom.status == "draft"
        assert {x.id for x in list_surveys(s)} == {default.id, custom.id}


@pytest.mark.parametrize(("question", "message"), [
    ({"kind": "stars", "prompt": "?"}, "kind must be one of"),
    ({"kind": "nps", "prompt": "  "}, "write something"),
    ({"kind": "rank", "prompt": "Order", "options": ["only one"]}, "2 to 12 choices"),
    ({"kind": "rank", "prompt": "Order", "options": ["a", "a"]}, "listed twice"),
    ({"kind": "text", "prompt": "Why", "options": ["a", "b"]}, "only a rank question"),
    ({"kind": "text", "prompt": "bad\x00prompt"}, "control characters"),
])
def test_bad_questions_are_refused_naming_the_question(db: Database, question: dict[str, Any], message: str) -> None:
    with db.session(write=True) as s, pytest.raises(ValidationFailed, match=message) as caught:
        create_survey(s, name="X", title="X", questions=[{"kind": "yesno", "prompt": "Ok?"}, question])
    assert "Question 2" in caught.value.message


def test_questions_change_only_while_a_draft(db: Database) -> None:
    with db.session(write=True) as s:
        survey = create_survey(s, name="X", title="X", questions=[QuestionSpec("yesno", "Ok?")])
        changed = update_survey(s, survey.id, questions=[QuestionSpec("csat", "Happy?"), QuestionSpec("text", "Why?")])
        assert [q.kind for q in changed.questions] == ["csat", "text"]
        open_survey(s, survey.id)
        with pytest.raises(Conflict, match="can no longer change"):
            update_survey(s, survey.id, questions=[QuestionSpec("yesno", "Ok?")])
        assert update_survey(s, survey.id, title="Better title").title == "Better title"
        with pytest.raises(NotFound, match="no survey number 999"):
            get_survey(s, 999)


# --- sending ----------------------------------------------------------------------------------------------------


def test_send_obeys_consent_email_erasure_and_dry_run_counts(db: Database, conf: Settings,
                                                             people: dict[str, int]) -> None:
    ids = list(people.values())
    with db.session(write=True) as s:
        survey = default_survey(s).id
        dry = send_survey(s, survey, Audience.customers(ids), settings=conf, dry_run=True, clock=fixed(T0))
        assert dry.counts == {"sent": 2, "no_consent": 2, "no_email": 1, "not_found": 1}
        assert set(dry.customer_ids) == {people["ada"], people["bob"]}
        assert outbox(s) == [] and s.scalar(select(func.count()).select_from(SurveyInvitation)) == 0
    with db.session(write=True) as s:
        report = send_survey(s, survey, Audience.customers(ids), settings=conf, clock=fixed(T0))
        assert report.counts == dry.counts
        mails = outbox(s)
        assert sorted(m.to_address for m in mails) == ["ada@example.com", "bob@example.com"]
        assert {m.key for m in mails} == {f"survey:{survey}:invite:{people['ada']}",
                                          f"survey:{survey}:invite:{people['bob']}"}
        spanish = next(m for m in mails if m.to_address == "ada@example.com")
        assert spanish.language == "es"
        invitation = s.scalar(select(SurveyInvitation).where(SurveyInvitation.customer_id == people["ada"]))
        assert invitation is not None and invitation.channel == "email"
        assert invitation.expires_at == T0 + timedelta(days=conf.survey_link_days)
        # Only the hash is stored; the e-mail's token hashes to it.
        link = s.scalar(select(SurveyLink).where(SurveyLink.invitation_id == invitation.id))
        assert link is not None and link.token_hash == token_hash(token_of(spanish))
        assert len(link.token_hash) == 64 and token_of(spanish) not in link.token_hash
        notes = s.scalars(select(Interaction.note).where(Interaction.customer_id == people["ada"])).all()
        assert notes == [f"Survey '{default_survey(s).name}' sent by e-mail"]


def test_sending_again_never_queues_twice_and_the_interval_caps_every_survey(db: Database, conf: Settings,
                                                                             people: dict[str, int]) -> None:
    ada = people["ada"]
    with db.session(write=True) as s:
        first = default_survey(s).id
        send_survey(s, first, Audience.customer(ada), settings=conf, clock=fixed(T0))
    with db.session(write=True) as s:
        again = send_survey(s, first, Audience.customer(ada), settings=conf, clock=fixed(T0 + timedelta(days=200)))
        assert again.counts == {"sent": 0, "already_invited": 1}
        other = create_survey(s, name="Fit", title="Fit", questions=[QuestionSpec("csat", "Fit?")]).id
        open_survey(s, other)
        soon = send_survey(s, other, Audience.customer(ada), settings=conf, clock=fixed(T0 + timedelta(days=89)))
        assert soon.counts == {"sent": 0, "asked_recently": 1}
        later = send_survey(s, other, Audience.customer(ada), settings=conf, clock=fixed(T0 + timedelta(days=91)))
        assert later.counts == {"sent": 1}
        assert len(outbox(s)) == 2
    uncapped = conf.model_copy(update={"survey_interval_days": 0})
    with db.session(write=True) as s:
        third = create_survey(s, name="Third", title="T", questions=[QuestionSpec("yesno", "Ok?")]).id
        open_survey(s, third)
        assert send_survey(s, third, Audience.customer(ada), settings=uncapped,
                           clock=fixed(T0 + timedelta(days=92))).sent == 1


def test_a_draft_or_closed_survey_cannot_be_sent(db: Database, conf: Settings, people: dict[str, int]) -> None:
    with db.session(write=True) as s:
        draft = create_survey(s, name="D", title="D", questions=[QuestionSpec("yesno", "Ok?")]).id
        assert send_survey(s, draft, Audience.customer(people["bob"]), settings=conf, dry_run=True).sent == 1
        with pytest.raises(Conflict, match="only an open survey"):
            send_survey(s, draft, Audience.customer(people["bob"]), settings=conf)
        with pytest.raises(NotFound, match="erased"):
            send_survey(s, default_survey(s).id, Audience.customer(people["gone"]), settings=conf, dry_run=True)


def test_suppressed_address_is_not_sent(db: Database, conf: Settings, people: dict[str, int]) -> None:
    from ravingfans.mail import suppress

    with db.session(write=True) as s:
        suppress(s, "BOB@example.com", reason="unsubscribed")
    with db.session(write=True) as s:
        report = send_survey(s, default_survey(s).id, Audience.customer(people["bob"]), settings=conf)
        assert report.counts == {"sent": 0, "suppressed": 1} and outbox(s) == []


def _score(run: ScoreRun, customer_id: int, segment: str, slipping_rank: int | None = None) -> CustomerScore:
    return CustomerScore(run_id=run.id, customer_id=customer_id, first_purchase=date(2024, 1, 1),
                         last_purchase=date(2024, 6, 1), purchases=3, frequency=2, recency=150.0, T=400.0,
                         monetary_value=50.0, total_spend=150.0, mean_gap=70.0, gap_std=5.0, days_since_last=200.0,
                         R=3, F=3, M=3, FM=3, segment=segment, p_alive=0.5, expected_purchases=1.0,
                         expected_spend=50.0, clv=80.0, slipping_rank=slipping_rank,
                         value_at_risk=40.0 if slipping_rank else None,
                         slipping_reason="no visit for 200 days" if slipping_rank else None)


def test_audiences_segment_fans_slipping_and_recent_buyers(db: Database, conf: Settings,
                                                           people: dict[str, int]) -> None:
    with db.session(write=True) as s:
        run = ScoreRun(created_at=T0, observation_end=date(2025, 3, 9), customers=3, model="none", params={},
                       segments={"Champions": [1, 80.0], "Loyal": [1, 80.0], "At Risk": [1, 80.0]})
        s.add(run)
        s.flush()
        s.add_all([_score(run, people["ada"], "Champions"), _score(run, people["bob"], "Loyal", slipping_rank=1),
                   _score(run, people["cy"], "At Risk")])
        bought = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)  # 7 days before T0
        for n, (who, at) in enumerate([("bob", bought), ("ada", bought - timedelta(days=1)),
                                       ("cy", bought + timedelta(days=1))]):
            s.add(Order(source="t", external_id=f"o{n}", customer_id=people[who], placed_at=at, total=Decimal(10)))
        survey = default_survey(s).id

    def who(audience: Audience) -> set[int]:
        with db.session() as s:
            return set(send_survey(s, survey, audience, settings=conf, dry_run=True, clock=fixed(T0)).customer_ids)

    assert who(Audience.segment_of("Champions")) == {people["ada"]}
    assert who(Audience.fans()) == {people["ada"], people["bob"]}
    assert who(Audience.slipping()) == {people["bob"]}
    assert who(Audience.recent_buyers(7)) == {people["bob"]}
    with db.session() as s:  # Cy bought 6 days ago but has no consent: counted, not chosen
        report = send_survey(s, survey, Audience.recent_buyers(6), settings=conf, dry_run=True, clock=fixed(T0))
        assert report.counts == {"sent": 0, "no_consent": 1}
    assert who(Audience.recent_buyers(7, window_days=2)) == {people["ada"], people["bob"]}
    with db.session() as s, pytest.raises(ValidationFailed, match="not a segment"):
        send_survey(s, survey, Audience.segment_of("Nobody"), settings=conf, dry_run=True)
    with db.session() as s, pytest.raises(ValidationFailed, match="Days after a purchase"):
        send_survey(s, survey, Audience.recent_buyers(-1), settings=conf, dry_run=True)


# --- reminders --------------------------------------------------------------------------------------------------


def test_one_reminder_to_non_responders_with_a_fresh_link(db: Database, conf: Settings,
                                                          people: dict[str, int]) -> None:
    with db.session(write=True) as s:
        survey = default_survey(s).id
        send_survey(s, survey, Audience.customers([people["ada"], people["bob"]]), settings=conf, clock=fixed(T0))
        first = {m.to_address: token_of(m) for m in outbox(s)}
    with db.session(write=True) as s:  # Bob answers; Ada does not
        submit_answers(s, first["bob@example.com"], {f"q{q.id}": "9" for q in get_survey(s, survey).questions
                                                      if q.kind == "nps"}, clock=fixed(T0 + timedelta(days=1)))
    with db.session(write=True) as s:
        early = remind_due(s, settings=conf, clock=fixed(T0 + timedelta(days=6)))
        assert early.reminded == 0
        due = remind_due(s, settings=conf, dry_run=True, clock=fixed(T0 + timedelta(days=8)))
        assert due.customer_ids == (people["ada"],) and len(outbox(s)) == 2
        done = remind_due(s, settings=conf, clock=fixed(T0 + timedelta(days=8)))
        assert done.customer_ids == (people["ada"],)
        reminder = outbox(s)[-1]
        assert reminder.key == f"survey:{survey}:remind:{people['ada']}" and reminder.template == "survey_reminder"
        assert remind_due(s, settings=conf, clock=fixed(T0 + timedelta(days=20))).reminded == 0  # only once
        assert len(outbox(s)) == 3
        fresh = token_of(reminder)
        assert fresh != first["ada@example.com"]
        later = T0 + timedelta(days=9)
        for token in (fresh, first["ada@example.com"]):  # both links work until they expire
            assert survey_page(s, token, clock=fixed(later)).state == "open"
        notes = s.scalars(select(Interaction.note).where(Interaction.customer_id == people["ada"])
                          .order_by(Interaction.id)).all()
        assert notes[-1].endswith("reminder sent by e-mail")


# --- answers ----------------------------------------------------------------------------------------------------


@pytest.fixture
def invited(db: Database, conf: Settings, people: dict[str, int]) -> Iterator[tuple[int, str, dict[str, int]]]:
    """Ada invited to a survey of every kind; yields the survey id, her token and the question fields by kind."""
    with db.session(write=True) as s:
        survey = create_survey(s, name="All kinds", title="Tell us", questions=[
            QuestionSpec("nps", "How are we doing?", required=True), QuestionSpec("csat", "Happy?"),
            QuestionSpec("text", "How can we do better?"),
            QuestionSpec("rank", "What matters most?", options=("Price", "Service", "Choice")),
            QuestionSpec("yesno", "Would you come back?")], clock=fixed(T0))
        open_survey(s, survey.id, clock=fixed(T0))
        send_survey(s, survey.id, Audience.customer(people["ada"]), settings=conf, clock=fixed(T0))
        token = token_of(outbox(s)[0])
        fields = {q.kind: q.field for q in survey.questions}
    yield survey.id, token, fields


def test_answers_are_stored_changed_until_close_and_logged(db: Database, invited: tuple[int, str, dict[str, int]],
                                                           people: dict[str, int]) -> None:
    survey, token, f = invited
    at = T0 + timedelta(hours=2)
    with db.session(write=True) as s:
        page = survey_page(s, token, clock=fixed(at))
        assert page.state == "open" and page.first_name == "Ada" and page.language == "es" and not page.answered
        first = submit_answers(s, token, {f["nps"]: "6", f["text"]: "  Open <b>earlier</b>\r\n please ",
                                          f"{f['rank']}.2": "1", f"{f['rank']}.0": "2", f["yesno"]: "no"},
                               clock=fixed(at))
        assert not first.changed
    with db.session(write=True) as s:
        page = survey_page(s, token, clock=fixed(at))
        assert page.answered and page.previous[f["nps"]] == 6
        assert page.previous[f["text"]] == "Open <b>earlier</b>\n please"
        assert page.previous[f["rank"]] == ["Choice", "Price"] and page.previous[f["yesno"]] is False
        second = submit_answers(s, token, {f["nps"]: "10", f["csat"]: "5"}, clock=fixed(at + timedelta(days=1)))
        assert second.changed
        response = s.scalar(select(SurveyResponse))
        assert response is not None and response.nps == 10 and response.changes == 1
        assert response.answers == {f["nps"][1:]: 10, f["csat"][1:]: 5}  # replaced, not merged
        invitation = s.scalar(select(SurveyInvitation))
        assert invitation is not None and invitation.answered_at == at + timedelta(days=1)
        notes = s.scalars(select(Interaction.note).where(Interaction.customer_id == people["ada"],
                                                         Interaction.channel == "web").order_by(Interaction.id)).all()
        assert notes == ["Survey 'All kinds' answered: 6/10 (detractor); “Open <b>earlier</b> please”; "
                         "ranked: Choice, Price; Would you come back? no",
                         "Survey 'All kinds' answer changed: 10/10 (promoter); 5/5"]
        close_survey(s, survey)
    with db.session(write=True) as s:
        assert survey_page(s, token, clock=fixed(at + timedelta(days=2))).state == "closed"
        with pytest.raises(SurveyClosed):
            submit_answers(s, token, {f["nps"]: "3"}, clock=fixed(at + timedelta(days=2)))
        assert s.scalar(select(SurveyResponse.nps)) == 10


def test_expired_unknown_and_erased_links_look_the_same(db: Database, conf: Settings,
                                                        invited: tuple[int, str, dict[str, int]],
                                                        people: dict[str, int]) -> None:
    survey, token, f = invited
    expired = T0 + timedelta(days=conf.survey_link_days, seconds=1)
    with db.session(write=True) as s:
        for bad, at in ((token, expired), (token[:-1] + ("A" if token[-1] != "A" else "B"), T0), ("x", T0),
                        ("../../etc/passwd", T0), ("é" * 43, T0)):
            assert survey_page(s, bad, clock=fixed(at)).state == "invalid"
            with pytest.raises(NotFound, match="not valid or has expired"):
                submit_answers(s, bad, {f["nps"]: "9"}, clock=fixed(at))
        s.get(Customer, people["ada"]).erased_at = T0  # type: ignore[union-attr]
    with db.session() as s:
        assert survey_page(s, token, clock=fixed(T0)).state == "invalid"


def test_survey_closing_time_ends_answers(db: Database, conf: Settings, people: dict[str, int]) -> None:
    closes = T0 + timedelta(days=3)
    with db.session(write=True) as s:
        survey = create_survey(s, name="Short", title="Short", questions=[QuestionSpec("yesno", "Ok?")],
                               closes_at=closes, clock=fixed(T0))
        open_survey(s, survey.id, clock=fixed(T0))
        send_survey(s, survey.id, Audience.customer(people["bob"]), settings=conf, clock=fixed(T0))
        token = token_of(outbox(s)[0])
        assert s.scalar(select(SurveyLink.expires_at)) == closes  # the link ends with the survey
        assert survey_page(s, token, clock=fixed(closes - timedelta(seconds=1))).state == "open"
        # The link ran until the closing time: afterwards it says the survey has closed, and takes nothing.
        assert survey_page(s, token, clock=fixed(closes)).state == "closed"
        assert survey_page(s, token, clock=fixed(closes + timedelta(days=400))).state == "closed"
        with pytest.raises(SurveyClosed):
            submit_answers(s, token, {"q1": "yes"}, clock=fixed(closes))


def test_problems_are_reported_per_question_and_nothing_is_stored(db: Database,
                                                                  invited: tuple[int, str, dict[str, int]]) -> None:
    survey, token, f = invited
    with db.session(write=True) as s, pytest.raises(AnswerProblems) as caught:
        submit_answers(s, token, {f["csat"]: "6", f["text"]: "x" * 2001, f"{f['rank']}.0": "1",
                                  f"{f['rank']}.1": "1", f["yesno"]: "maybe", "q99999": "9", "evil": ["a", "b"]},
                       clock=fixed(T0))
    assert caught.value.problems == {f["nps"]: "Please answer this question.",
                                     f["csat"]: "Please pick a number from 1 to 5.",
                                     f["text"]: "Please keep your answer under 2000 characters.",
                                     f["rank"]: "Please give each choice a different place, using the places offered.",
                                     f["yesno"]: "Please answer yes or no."}
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SurveyResponse)) == 0


def test_staff_enter_an_answer_given_in_store(db: Database, conf: Settings, people: dict[str, int]) -> None:
    with db.session(write=True) as s:
        user = User(email="sam@shop.example", password_hash="x", role="staff", created_at=T0)
        clerk = Employee(name="Sam", source="t", external_id="E1", created_at=T0)
        s.add_all([user, clerk])
        s.flush()
        s.add(Order(source="t", external_id="o1", customer_id=people["cy"], employee_id=clerk.id,
                    placed_at=T0 - timedelta(days=3), total=Decimal(10)))
        survey = default_survey(s)
        nps, text = (q.id for q in survey.questions)
        result = record_answers_for_customer(s, survey.id, people["cy"], {nps: 8, str(text): "More sizes"},
                                             user.id, "store", clock=fixed(T0))
        assert not result.changed
        with pytest.raises(ValidationFailed, match="store or the phone"):
            record_answers_for_customer(s, survey.id, people["cy"], {nps: 8}, user.id, "web", clock=fixed(T0))
        with pytest.raises(NotFound):
            record_answers_for_customer(s, survey.id, people["gone"], {nps: 8}, user.id, "phone", clock=fixed(T0))
        rows = responses_frame(s)
        assert rows == [{"response_id": result.response_id, "customer_id": people["cy"], "survey_id": survey.id,
                         "submitted_at": T0, "first_submitted_at": T0, "channel": "store", "employee_id": clerk.id,
                         "entered_by": user.id, "segment": None, "nps": 8, "csat": None, "text": "More sizes",
                         "answers": {str(nps): 8, str(text): "More sizes"}}]
        invitation = invitations_frame(s, survey.id)
        assert [(r["customer_id"], r["channel"], r["answered_at"]) for r in invitation] == [(people["cy"], "store", T0)]
        # Asked in store counts for the frequency cap (Cy has no consent anyway; the cap is checked after it).
        mine = survey_for_customer(s, people["cy"])
        assert [(m.survey_id, m.channel, m.nps) for m in mine] == [(survey.id, "store", 8)]
        moment = s.scalar(select(Interaction).where(Interaction.customer_id == people["cy"]))
        assert moment is not None and moment.channel == "store" and moment.kind == "other"
        assert moment.note == "Survey 'How are we doing?' answered: 8/10 (passive); “More sizes”"


def test_a_link_handed_over_by_staff_works_without_email(db: Database, conf: Settings,
                                                         people: dict[str, int]) -> None:
    with db.session(write=True) as s:
        survey = default_survey(s).id
        issued = issue_link(s, survey, people["ed"], settings=conf, clock=fixed(T0))
        assert issued.url == f"https://shop.example/s/{issued.token}" and len(issued.token) >= 43
        assert survey_page(s, issued.token, clock=fixed(T0)).first_name == "Ed"
        assert outbox(s) == []


def test_public_page_throttles_refused_links_and_answers(db: Database) -> None:
    with db.session(write=True) as s:
        waits = [survey_throttle.refused_link(s, "203.0.113.9", "k", clock=fixed(T0))
                 for _ in range(survey_throttle.BAD_LINKS_PER_ADDRESS + 1)]
        assert waits[:-1] == [None] * survey_throttle.BAD_LINKS_PER_ADDRESS and 0 < waits[-1] <= 15 * 60 + 1
        assert survey_throttle.refused_link(s, "203.0.113.10", "k", clock=fixed(T0)) is None
        answers = [survey_throttle.answer_attempt(s, "tok" * 10, "198.51.100.1", "k", clock=fixed(T0))
                   for _ in range(survey_throttle.ANSWERS_PER_LINK + 1)]
        assert answers[-1] is not None and answers[:-1] == [None] * survey_throttle.ANSWERS_PER_LINK
        later = fixed(T0 + timedelta(minutes=16))
        assert survey_throttle.answer_attempt(s, "tok" * 10, "198.51.100.1", "k", clock=later) is None


# --- the answer parser, with generated input ----------------------------------------------------------------------

QUESTIONS = (QuestionView(1, 1, "nps", "N", True, ()), QuestionView(2, 2, "csat", "C", False, ()),
             QuestionView(3, 3, "text", "T", False, ()), QuestionView(4, 4, "rank", "R", False, ("a", "b", "c")),
             QuestionView(5, 5, "yesno", "Y", False, ()))
_values = st.one_of(st.none(), st.text(max_size=50), st.integers(-5, 20), st.booleans(),
                    st.lists(st.text(max_size=5), max_size=4), st.floats(allow_nan=True))


@hsettings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(["q1", "q2", "q3", "q4", "q4.0", "q4.1", "q4.2", "q5", "1", "x"]), _values))
def test_parser_accepts_only_well_formed_answers(data: dict[str, Any]) -> None:
    try:
        answers = parse_answers(QUESTIONS, data)
    except AnswerProblems as exc:
        assert set(exc.problems) <= {"q1", "q2", "q3", "q4", "q5"} and exc.problems
        return
    assert set(answers) <= {"1", "2", "3", "4", "5"} and "1" in answers
    assert type(answers["1"]) is int and 0 <= answers["1"] <= 10
    assert "2" not in answers or (type(answers["2"]) is int and 1 <= answers["2"] <= 5)
    assert "3" not in answers or (isinstance(answers["3"], str) and 0 < len(answers["3"]) <= 2000)
    if "4" in answers:
        assert len(set(answers["4"])) == len(answers["4"]) and set(answers["4"]) <= {"a", "b", "c"}
    assert "5" not in answers or type(answers["5"]) is bool


@given(st.integers(0, 10), st.sampled_from(["{}", " {} ", "{}\n"]))
def test_parser_reads_every_score_written_plainly(score: int, shape: str) -> None:
    assert parse_answers(QUESTIONS, {"q1": shape.format(score)})["1"] == score


@pytest.mark.parametrize("bad", ["11", "-1", "9.5", "1e1", "٩", "９", "0x9", "", " ", True, 3.0, ["9", "8"]])
def test_parser_refuses_scores_that_are_not_0_to_10(bad: Any) -> None:
    with pytest.raises(AnswerProblems) as caught:
        parse_answers(QUESTIONS, {"q1": bad})
    assert set(caught.value.problems) == {"q1"}


def test_sending_to_many_costs_the_statements_of_sending_to_a_few(db: Database, conf: Settings) -> None:
    # The invitations are queued and written in batches: the statement count does not grow with the audience.
    from sqlcount import counted

    with db.session(write=True) as s:
        few = [add_customer(s, f"F{n}", f"f{n}@example.com") for n in range(3)]
        many = [add_customer(s, f"M{n}", f"m{n}@example.com") for n in range(40)]
        survey = default_survey(s).id

    def statements(survey_id: int, ids: list[int]) -> int:
        with counted(db) as seen, db.session(write=True) as s:
            report = send_survey(s, survey_id, Audience.customers(ids), settings=conf, clock=fixed(T0))
        assert report.counts == {"sent": len(ids)} and list(report.customer_ids) == ids
        return len(seen)

    assert statements(survey, many) == statements(survey, few)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SurveyLink)) == 43
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 43


def test_a_malformed_address_is_skipped_and_the_rest_are_sent(db: Database, conf: Settings) -> None:
    with db.session(write=True) as s:
        good = add_customer(s, "Ana", "ana@example.com")
        bad = add_customer(s, "Bea", "bea at example dot com")  # imported long ago; no server would take it
        report = send_survey(s, default_survey(s).id, Audience.customers([good, bad]), settings=conf,
                             clock=fixed(T0))
        assert report.counts == {"sent": 1, "no_email": 1} and report.customer_ids == (good,)
        assert [m.to_address for m in outbox(s)] == ["ana@example.com"]


# --- two writers at once (PostgreSQL runs them side by side; SQLite queues the second behind the first) ----------


def _overlapping(db: Database, first: Any, second: Any) -> list[Any]:
    """Both writers' results; neither may fail (see overlap.overlapping)."""
    results, errors = overlapping(db, first, second)
    assert errors == [None, None]
    return results


def test_two_links_for_one_customer_at_once_share_one_invitation(db: Database, conf: Settings,
                                                                 people: dict[str, int]) -> None:
    with db.session(write=True) as s:
        survey = default_survey(s).id
    issue = lambda s: issue_link(s, survey, people["ed"], settings=conf, clock=fixed(T0))  # noqa: E731
    one, two = _overlapping(db, issue, issue)
    assert one.invitation_id == two.invitation_id and one.token != two.token
    with db.session(write=True) as s:
        assert s.scalar(select(func.count()).select_from(SurveyInvitation)) == 1
        assert survey_page(s, two.token, clock=fixed(T0)).first_name == "Ed"


def test_answers_entered_twice_at_once_make_one_response(db: Database, conf: Settings,
                                                         people: dict[str, int]) -> None:
    with db.session(write=True) as s:
        user = User(email="sam@shop.example", password_hash="x", role="staff", created_at=T0)
        s.add(user)
        s.flush()
        survey, user_id = default_survey(s), user.id
        nps = survey.questions[0].id
        survey_id = survey.id

    def enter(score: int) -> Any:
        return lambda s: record_answers_for_customer(s, survey_id, people["cy"], {nps: score}, user_id, "store",
                                                     clock=fixed(T0))

    one, two = _overlapping(db, enter(7), enter(9))
    assert (one.changed, two.changed) == (False, True) and one.response_id == two.response_id
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SurveyInvitation)) == 1
        assert s.scalars(select(SurveyResponse.nps)).all() == [9]


def test_a_form_sent_twice_at_once_stores_one_response(db: Database, invited: tuple[int, str, dict[str, int]]) -> None:
    _survey, token, f = invited
    submit = lambda s: submit_answers(s, token, {f["nps"]: "8"}, clock=fixed(T0))  # noqa: E731
    one, two = _overlapping(db, submit, submit)
    assert (one.changed, two.changed) == (False, True)
    with db.session() as s:
        assert s.scalars(select(SurveyResponse.changes)).all() == [1]


def test_a_send_meeting_a_handed_over_link_invites_once(db: Database, conf: Settings,
                                                         people: dict[str, int]) -> None:
    with db.session(write=True) as s:
        survey = default_survey(s).id
    link = lambda s: issue_link(s, survey, people["bob"], settings=conf, clock=fixed(T0))  # noqa: E731
    send = lambda s: send_survey(s, survey, Audience.customer(people["bob"]), settings=conf,  # noqa: E731
                                 clock=fixed(T0))
    issued, report = _overlapping(db, link, send)
    assert report.counts.get("already_invited", 0) + report.counts["sent"] == 1
    with db.session() as s:
        invitations = s.scalars(select(SurveyInvitation)).all()
        assert [(i.customer_id, i.id) for i in invitations] == [(people["bob"], issued.invitation_id)]


def test_two_sends_of_one_survey_at_once_invite_each_customer_once(db: Database, conf: Settings,
                                                                   people: dict[str, int]) -> None:
    with db.session(write=True) as s:
        survey = default_survey(s).id
    send = lambda s: send_survey(s, survey, Audience.customers([people["ada"], people["bob"]]),  # noqa: E731
                                 settings=conf, clock=fixed(T0))
    one, two = _overlapping(db, send, send)
    assert (one.counts["sent"], two.counts["sent"], two.counts.get("already_invited")) == (2, 0, 2)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SurveyInvitation)) == 2 == len(outbox(s))


def test_the_profile_offers_the_newest_open_surveys_with_their_questions_in_order(db: Database) -> None:
    from ravingfans.services.surveys import newest_open_surveys

    start = datetime.now(UTC) + timedelta(days=1)  # after the default survey the migration made
    with db.session(write=True) as s:
        fit = create_survey(s, name="Fit", title="Fit", clock=fixed(start), questions=[
            QuestionSpec("rank", "What matters most?", options=("price", "fit", "looks")),
            QuestionSpec("csat", "How was the fit?", required=True)])
        later = create_survey(s, name="Later", title="Later", clock=fixed(start + timedelta(days=1)),
                              questions=[QuestionSpec("yesno", "Would you come back?")])
        create_survey(s, name="Draft", title="Draft", clock=fixed(start + timedelta(days=2)),
                      questions=[QuestionSpec("text", "Anything else?")])  # not open: not offered
        for survey in (fit, later):
            open_survey(s, survey.id, clock=fixed(start + timedelta(days=3)))
    with db.session() as s:
        two = newest_open_surveys(s, 2)
        everyone = newest_open_surveys(s, 10)
    assert [(o.id, o.name) for o in two] == [(later.id, "Later"), (fit.id, "Fit")]
    assert [(q.position, q.kind, q.prompt, q.required, q.options) for q in two[1].questions] == [
        (1, "rank", "What matters most?", False, ("price", "fit", "looks")),
        (2, "csat", "How was the fit?", True, ())]
    assert [q.prompt for q in two[0].questions] == ["Would you come back?"]
    names = [o.name for o in everyone]
    assert names[:2] == ["Later", "Fit"] and "Draft" not in names  # then the default survey, where there is one
