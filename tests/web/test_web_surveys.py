"""Staff survey pages: list, build, open/close, send (preview, confirm), results, the profile's Surveys section."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from signin import sign_in_as
from sqlalchemy import func, select
from sqlcount import counted

from ravingfans.config import Settings

from ravingfans.db import Database
from ravingfans.db.models import (
    Customer,
    FeedbackTheme,
    Order,
    OutboxMessage,
    Survey,
    SurveyInvitation,
    SurveyResponse,
)
from ravingfans.services import surveys
from ravingfans.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ClientAs = Callable[[str], TestClient]
QUEUE = ["The queue at the till was far too long", "Waited twenty minutes in the queue at the till",
         "Long queue at the till again", "The till queue took forever"]
STAFF = ["Lovely helpful staff, so friendly", "The staff were friendly and helpful",
         "Friendly helpful staff who listen", "Staff so friendly and helpful today"]


def _default(db: Database) -> tuple[int, int, int]:
    with db.session(write=True) as s:
        info = surveys.default_survey(s)
    kinds = {q.kind: q.id for q in info.questions}
    return info.id, kinds["nps"], kinds["text"]


def _answers(db: Database, texts: list[str], prefix: str = "R") -> list[int]:
    survey_id, nps_q, text_q = _default(db)
    ids = []
    with db.session(write=True) as s:
        for i, text in enumerate(texts):
            c = Customer(first_name=f"{prefix}{i}", last_name="X", created_at=datetime.now(UTC),
                         updated_at=datetime.now(UTC))
            s.add(c)
            s.flush()
            ids.append(c.id)
            surveys.record_answers_for_customer(s, survey_id, c.id, {f"q{nps_q}": str(i % 11), f"q{text_q}": text},
                                                None, "store")
    return ids


def test_list_shows_the_default_survey_and_the_nav_links_to_it(client: TestClient) -> None:
    page = client.get("/surveys")
    assert page.status_code == 200
    assert 'href="/surveys"' in page.text and "How are we doing?" in page.text and 'id="new-survey"' in page.text


def test_staff_read_but_cannot_build_open_send_or_analyse(client_as: ClientAs, db: Database) -> None:
    staff = client_as("staff")
    survey_id, _n, _t = _default(db)
    assert staff.get("/surveys").status_code == 200 and 'id="new-survey"' not in staff.get("/surveys").text
    assert staff.get("/surveys/new").status_code == 403
    detail = staff.get(f"/surveys/{survey_id}")
    assert detail.status_code == 200 and "preview-form" not in detail.text and "close-form" not in detail.text
    assert staff.post(f"/surveys/{survey_id}/close").status_code == 403
    assert staff.post("/surveys/analyse").status_code == 403
    results = staff.get("/surveys/results")
    assert results.status_code == 200 and "analyse-form" not in results.text


def test_a_manager_builds_opens_and_closes_a_survey(client_as: ClientAs, db: Database) -> None:
    manager = client_as("manager")
    form = {"name": "Boots feedback", "title": "How were your boots?", "q1_kind": "csat", "q1_prompt": "Comfort?",
            "q1_required": "yes", "q2_kind": "rank", "q2_prompt": "What matters most?",
            "q2_options": "Price\nFit\nStyle", "q3_kind": "yesno", "q3_prompt": "Would you buy again?"}
    made = manager.post("/surveys", data=form)
    assert made.status_code == 303
    survey_id = int(made.headers["location"].split("/")[2].split("?")[0])
    with db.session() as s:
        survey = s.get(Survey, survey_id)
        assert survey.status == "draft" and [q.kind for q in survey.questions] == ["csat", "rank", "yesno"]
        assert survey.questions[1].options == ["Price", "Fit", "Style"]
    page = manager.get(made.headers["location"])
    assert "Survey created" in page.text and "open-form" in page.text
    assert manager.post(f"/surveys/{survey_id}/open").status_code == 303
    assert "close-form" in manager.get(f"/surveys/{survey_id}").text
    assert manager.post(f"/surveys/{survey_id}/close").status_code == 303
    with db.session() as s:
        assert s.get(Survey, survey_id).status == "closed"


def test_a_refused_survey_shows_the_form_again_with_the_problem(client_as: ClientAs, db: Database) -> None:
    manager = client_as("manager")
    _default(db)
    page = manager.post("/surveys", data={"name": "Bad <b>", "title": "T", "q1_kind": "rank", "q1_prompt": "Rank",
                                          "q1_options": "Only one"})
    assert page.status_code == 422 and "a ranking needs 2 to" in page.text and 'aria-invalid="true"' in page.text
    assert "Bad &lt;b&gt;" in page.text  # what was typed comes back, escaped
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Survey)) == 1  # only the default


def test_send_previews_the_counts_then_sends_on_confirm(client_as: ClientAs, db: Database, shop: Any) -> None:
    owner = client_as("owner")  # marketing e-mail carries the business's postal address: set it first
    assert owner.post("/settings", data={"business_name": "Shoe & Co", "business_address": "1 Main St, Portland",
                                         "time_zone": "Asia/Tokyo", "currency": "EUR"}).status_code == 303
    manager = client_as("manager")
    survey_id, _n, _t = _default(db)
    now = datetime.now(UTC)
    with db.session(write=True) as s:
        s.get(Customer, shop.grace).email_consent = True
        for n, who in enumerate((shop.grace, shop.ada)):  # Ada withdrew her consent
            s.add(Order(source="t", external_id=f"RB{n}", customer_id=who, placed_at=now - timedelta(days=2),
                        total=Decimal("10.00")))
    form = {"audience": "recent_buyers", "days": "0", "window_days": "7"}
    preview = manager.post(f"/surveys/{survey_id}/send/preview", data=form)
    assert preview.status_code == 200 and "Would send survey" in preview.text and "confirm-form" in preview.text
    assert "No e-mail consent" in preview.text
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SurveyInvitation)) == 0  # a dry run writes nothing
    assert manager.post(f"/surveys/{survey_id}/send", data=form).status_code == 422  # no confirm: refused
    sent = manager.post(f"/surveys/{survey_id}/send", data={**form, "confirm": "yes"})
    assert sent.status_code == 303 and "sent=1" in sent.headers["location"]
    with db.session() as s:
        assert s.scalars(select(SurveyInvitation.customer_id)).all() == [shop.grace]
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    bad = manager.post(f"/surveys/{survey_id}/send/preview", data={"audience": "recent_buyers", "days": "soon"})
    assert bad.status_code == 422 and "Days after a purchase" in bad.text


def test_results_show_nps_chart_themes_requests_and_the_analyse_button(client: TestClient, db: Database) -> None:
    texts = QUEUE * 3 + STAFF * 3 + ["Could you open a second till on Saturdays?", "fine",
                                     "<script>alert(1)</script> the queue at the till"]
    _answers(db, texts)
    before = client.get("/surveys/results")
    assert before.status_code == 200 and 'id="pending"' in before.text and "No themes yet" in before.text
    done = client.post("/surveys/analyse", data={"back": "/surveys/results?survey=1"})
    assert done.status_code == 303 and done.headers["location"] == "/surveys/results?survey=1&saved=analysed"
    assert client.post("/surveys/analyse", data={"back": "https://evil.example/"}).headers["location"] == \
        "/surveys/results?saved=analysed"
    page = client.get("/surveys/results")
    assert page.status_code == 200
    assert '<svg' in page.text and 'id="nps-trend-chart"' in page.text and 'id="nps-trend-table"' in page.text
    assert 'id="pending"' not in page.text and "Answers analysed" not in page.text
    assert "second till" in page.text and 'id="themes"' in page.text and "No themes yet" not in page.text
    assert "<script>alert(1)</script>" not in page.text
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(FeedbackTheme)) >= 2
    assert client.get("/surveys/results", params={"since": "yesterday"}).status_code == 422
    assert client.get("/surveys/results", params={"survey": "x"}).status_code == 422


def test_results_page_runs_a_fixed_number_of_queries(db: Database, web_settings: Settings, shop: Any) -> None:
    used = []
    with TestClient(create_app(web_settings, database=db), follow_redirects=False) as client:
        sign_in_as(client, db, "manager")
        for batch, n in enumerate((4, 40)):
            _answers(db, [(QUEUE + STAFF)[i % 8] for i in range(n)], prefix=f"B{batch}-")
            assert client.post("/surveys/analyse").status_code == 303
            client.get("/surveys/results")
            with counted(db) as statements:
                page = client.get("/surveys/results")
            assert page.status_code == 200 and 'id="themes"' in page.text
            used.append(len(statements))
    assert used[0] == used[1] > 0, used


def test_profile_lists_surveys_and_takes_an_answer_given_in_store(client_as: ClientAs, db: Database,
                                                                 shop: Any) -> None:
    staff = client_as("staff")
    survey_id, nps_q, text_q = _default(db)
    page = staff.get(f"/customers/{shop.grace}")
    assert page.status_code == 200 and 'id="surveys"' in page.text and "Not asked any survey yet" in page.text
    assert f'name="q{nps_q}"' in page.text
    saved = staff.post(f"/customers/{shop.grace}/survey-answers",
                       data={"survey_id": str(survey_id), "channel": "phone", "employee_id": str(shop.employee),
                             f"q{nps_q}": "9", f"q{text_q}": "fine"})
    assert saved.status_code == 303 and saved.headers["location"].endswith("saved=survey#surveys")
    with db.session() as s:
        response = s.scalar(select(SurveyResponse).where(SurveyResponse.customer_id == shop.grace))
        assert response.nps == 9 and response.channel == "phone" and response.employee_id == shop.employee
    page = staff.get(f"/customers/{shop.grace}?saved=survey")
    assert "Survey answer saved." in page.text and "9/10" in page.text
    assert "last answer said nothing: &#39;fine&#39;" in page.text
    refused = staff.post(f"/customers/{shop.grace}/survey-answers",
                         data={"survey_id": str(survey_id), "channel": "store", f"q{nps_q}": "11"})
    assert refused.status_code == 422 and "0 to 10" in refused.text
    ghost = staff.post(f"/customers/{shop.grace}/survey-answers",
                       data={"survey_id": str(survey_id), "channel": "store", f"q{nps_q}": "5", "employee_id": "999"})
    assert ghost.status_code == 422 and "Served by" in ghost.text


def test_slipping_list_says_what_each_fans_silences_say(client: TestClient, db: Database, shop: Any,
                                                        web_settings: Settings) -> None:
    from test_web_scores import LAST_DAY, NOW
    from test_web_slipping import seed

    from ravingfans.services import scoring

    fans = seed(db, shop)
    survey_id, _n, _t = _default(db)
    with db.session(write=True) as s:
        s.add(SurveyInvitation(survey_id=survey_id, customer_id=fans[0], channel="email",
                               sent_at=datetime(2024, 1, 1, tzinfo=UTC), reminded_at=datetime(2024, 1, 8, tzinfo=UTC)))
    scoring.score_database(db.engine, web_settings, until=LAST_DAY, clock=NOW)
    page = client.get("/slipping?limit=100")
    assert page.status_code == 200 and ">Silences<" in page.text
    row = page.text[page.text.index(f'id="fan-{fans[0]}"'):]
    row = row[:row.index("</tr>")]
    assert "invited 2 times, never answered" in row and "used to contact us every ~14 days; silent for" in row


def test_a_manager_asks_one_customer_from_the_profile_and_staff_hand_over_a_link(
        client_as: ClientAs, db: Database, shop: Any) -> None:
    owner = client_as("owner")  # marketing e-mail carries the business's postal address: set it first
    assert owner.post("/settings", data={"business_name": "Shoe & Co", "business_address": "1 Main St, Portland",
                                         "time_zone": "UTC", "currency": "EUR"}).status_code == 303
    survey_id, _n, _t = _default(db)
    with db.session(write=True) as s:
        s.get(Customer, shop.grace).email_consent = True
    manager = client_as("manager")
    profile = manager.get(f"/customers/{shop.grace}")
    assert 'id="invite-form"' in profile.text and 'id="link-form"' in profile.text
    asked = manager.post(f"/customers/{shop.grace}/survey-invitation", data={"survey_id": str(survey_id)})
    assert asked.status_code == 303 and "outcome=sent" in asked.headers["location"]
    assert "Survey e-mail queued" in manager.get(asked.headers["location"]).text
    again = manager.post(f"/customers/{shop.grace}/survey-invitation", data={"survey_id": str(survey_id)})
    assert "outcome=already_invited" in again.headers["location"]
    refused = manager.post(f"/customers/{shop.ada}/survey-invitation", data={"survey_id": str(survey_id)})
    assert "outcome=no_consent" in refused.headers["location"]  # Ada withdrew her e-mail consent
    with db.session() as s:
        assert s.scalars(select(OutboxMessage.customer_id)).all() == [shop.grace]

    staff = client_as("staff")
    assert 'id="invite-form"' not in staff.get(f"/customers/{shop.ada}").text  # staff hand over links only
    page = staff.post(f"/customers/{shop.ada}/survey-link", data={"survey_id": str(survey_id)})
    assert page.status_code == 200 and "/s/" in page.text
    token = page.text.split("/s/")[1].split('"')[0]
    public = client_as("staff").get(f"/s/{token}")
    assert public.status_code == 200 and "How can we do better?" in public.text
