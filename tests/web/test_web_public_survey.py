"""The public survey page /s/{token}: no sign-in, the customer's language, hostile input, limits, a real browser."""

from __future__ import annotations

import logging
import re
import shutil
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Customer, Interaction, SurveyLink, SurveyResponse
from ravingfans.services import survey_throttle
from ravingfans.services.survey_audiences import issue_link
from ravingfans.services.surveys import QuestionSpec, close_survey, create_survey, default_survey, open_survey

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def link_for(db: Database, customer_id: int, survey_id: int | None = None, language: str | None = None) -> str:
    """A personal link's token for this customer (the default survey unless named)."""
    with db.session(write=True) as s:
        if language is not None:
            s.get(Customer, customer_id).language = language  # type: ignore[union-attr]
        survey = survey_id if survey_id is not None else default_survey(s).id
        return issue_link(s, survey, customer_id, settings=Settings(_env_file=None)).token


def fields(db: Database, survey_id: int | None = None) -> dict[str, str]:
    """Form field name per question kind."""
    with db.session(write=True) as s:
        from ravingfans.services.surveys import get_survey

        survey = get_survey(s, survey_id if survey_id is not None else default_survey(s).id)
        return {q.kind: q.field for q in survey.questions}


def stored(db: Database, customer_id: int) -> SurveyResponse | None:
    with db.session() as s:
        return s.scalar(select(SurveyResponse).where(SurveyResponse.customer_id == customer_id))


def test_the_page_greets_the_customer_in_their_language_without_staff_chrome(anon_client: TestClient, db: Database,
                                                                            shop: Any) -> None:
    token = link_for(db, shop.ada, language="es-MX")
    page = anon_client.get(f"/s/{token}")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="es">' in html and "¡Hola, Ada!" in html
    assert "¿Qué tal lo estamos haciendo?" in html and "¿Cómo podemos mejorar?" in html
    assert "Enviar mis respuestas" in html
    assert "Sign out" not in html and "/customers" not in html and "Lovelace" not in html
    assert "<script" not in html and "style=" not in html  # the CSP allows neither inline
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert len(re.findall(r'type="radio" name="q\d+"', html)) == 11


def test_answer_then_thanks_then_change_it(anon_client: TestClient, db: Database, shop: Any) -> None:
    token = link_for(db, shop.grace)
    f = fields(db)
    sent = anon_client.post(f"/s/{token}", data={f["nps"]: "9", f["text"]: "Open on <b>Sundays</b> & holidays"})
    assert sent.status_code == 303 and sent.headers["location"] == f"/s/{token}/thanks"
    thanks = anon_client.get(sent.headers["location"])
    assert thanks.status_code == 200 and "Thank you, Grace!" in thanks.text and f'href="/s/{token}"' in thanks.text
    again = anon_client.get(f"/s/{token}")
    assert 'value="9" checked' in again.text and "You have answered before" in again.text
    assert "Open on &lt;b&gt;Sundays&lt;/b&gt; &amp; holidays</textarea>" in again.text  # escaped, never markup
    assert anon_client.post(f"/s/{token}", data={f["nps"]: "4"}).status_code == 303
    response = stored(db, shop.grace)
    assert response is not None and response.nps == 4 and response.changes == 1 and response.channel == "web"
    with db.session() as s:
        notes = s.scalars(select(Interaction.note).where(Interaction.customer_id == shop.grace,
                                                         Interaction.channel == "web")).all()
    assert len(notes) == 2 and notes[1].startswith("Survey 'How are we doing?' answer changed: 4/10")


def test_a_token_shows_only_its_own_customer(anon_client: TestClient, db: Database, shop: Any) -> None:
    f = fields(db)
    grace = link_for(db, shop.grace)
    assert anon_client.post(f"/s/{grace}", data={f["nps"]: "2", f["text"]: "Grace's secret"}).status_code == 303
    linus = anon_client.get(f"/s/{link_for(db, shop.linus)}")
    assert "Hello Linus!" in linus.text and "Grace" not in linus.text and "secret" not in linus.text
    assert "checked" not in linus.text
    # Form fields naming another customer or survey are ignored: only the token decides.
    anon_client.post(f"/s/{grace}", data={f["nps"]: "3", "customer_id": str(shop.linus), "survey_id": "2"})
    assert stored(db, shop.linus) is None and stored(db, shop.grace).nps == 3  # type: ignore[union-attr]


def test_hostile_names_and_answers_are_escaped(anon_client: TestClient, db: Database, shop: Any) -> None:
    token = link_for(db, shop.hostile)
    f = fields(db)
    page = anon_client.get(f"/s/{token}")
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    bad = anon_client.post(f"/s/{token}", data={f["nps"]: "<script>alert(1)</script>",
                                                f["text"]: "\"><script>alert(2)</script>"})
    assert bad.status_code == 422
    assert "Please pick a number from 0 to 10." in bad.text and "<script>alert" not in bad.text
    assert "&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;</textarea>" in bad.text
    assert stored(db, shop.hostile) is None


@pytest.mark.parametrize("data", [
    {"NPS": "11"}, {"NPS": "-1"}, {"NPS": "9.0"}, {"NPS": "٩"}, {"NPS": ["9", "10"]}, {"TEXT": "x" * 2001},
    {"TEXT": "nul\x00byte"}, {"TEXT": "bell\x07"}, {},
])
def test_wrong_answers_are_a_422_form_not_an_error(anon_client: TestClient, db: Database, shop: Any,
                                                   data: dict[str, Any]) -> None:
    token = link_for(db, shop.grace)
    f = fields(db)
    body = {f[key.lower()]: value for key, value in data.items()}
    if data and "NPS" not in data:
        body[f["nps"]] = "5"  # a good score, so the text alone is wrong
    answer = anon_client.post(f"/s/{token}", data=body)
    assert answer.status_code == 422, answer.text[:300]
    assert 'role="alert"' in answer.text and "Traceback" not in answer.text
    assert stored(db, shop.grace) is None


def test_bodies_too_big_files_and_garbage_are_refused_kindly(anon_client: TestClient, db: Database,
                                                             shop: Any) -> None:
    token = link_for(db, shop.grace)
    f = fields(db)
    assert anon_client.post(f"/s/{token}", data={f["text"]: "x" * 200_000}).status_code == 413
    upload = anon_client.post(f"/s/{token}", data={f["nps"]: "9"}, files={f["text"]: ("a.txt", b"hi", "text/plain")})
    assert upload.status_code == 400 and "We could not read your answers" in upload.text
    junk = anon_client.post(f"/s/{token}", content=b"\xff\xfe=\x00&&==", headers={
        "content-type": "application/x-www-form-urlencoded"})
    assert junk.status_code == 422
    many = anon_client.post(f"/s/{token}", data={f"f{n}": "1" for n in range(400)})
    assert many.status_code in (400, 422) and "Traceback" not in many.text
    assert stored(db, shop.grace) is None


def test_cross_site_posts_are_refused_without_any_cookie(anon_client: TestClient, db: Database, shop: Any) -> None:
    token = link_for(db, shop.grace)
    f = fields(db)
    for headers in ({"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}, {"origin": "null"}):
        refused = anon_client.post(f"/s/{token}", data={f["nps"]: "0"}, headers=headers)
        assert refused.status_code == 403
    same = anon_client.post(f"/s/{token}", data={f["nps"]: "10"}, headers={"sec-fetch-site": "same-origin"})
    assert same.status_code == 303 and stored(db, shop.grace).nps == 10  # type: ignore[union-attr]
    assert not anon_client.cookies  # nothing was needed or set


def test_unknown_and_expired_links_get_one_page_and_are_rate_limited(anon_client: TestClient, db: Database,
                                                                     shop: Any) -> None:
    token = link_for(db, shop.grace)
    with db.session(write=True) as s:  # expire it
        for link in s.scalars(select(SurveyLink)):
            link.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    expired = anon_client.get(f"/s/{token}")
    unknown = anon_client.get(f"/s/{'A' * 43}")
    nonsense = anon_client.get("/s/%3Cscript%3E")
    assert expired.status_code == unknown.status_code == nonsense.status_code == 404
    assert expired.text == unknown.text == nonsense.text and "This link does not work" in expired.text
    assert anon_client.get(f"/s/{token}/thanks").status_code == 404
    assert anon_client.post(f"/s/{token}", data={"q1": "9"}).status_code == 404
    spanish = anon_client.get(f"/s/{'B' * 43}", headers={"accept-language": "es-ES,es;q=0.9"})
    assert "Este enlace no funciona" in spanish.text
    for _ in range(survey_throttle.BAD_LINKS_PER_ADDRESS):
        last = anon_client.get(f"/s/{'C' * 43}")
    assert last.status_code == 429 and int(last.headers["retry-after"]) > 0
    assert "Please wait a moment" in last.text


def test_answers_per_link_are_limited(anon_client: TestClient, db: Database, shop: Any) -> None:
    token = link_for(db, shop.grace)
    f = fields(db)
    codes = [anon_client.post(f"/s/{token}", data={f["nps"]: str(n % 11)}).status_code
             for n in range(survey_throttle.ANSWERS_PER_LINK + 1)]
    assert codes[:-1] == [303] * survey_throttle.ANSWERS_PER_LINK and codes[-1] == 429
    assert anon_client.get(f"/s/{token}").status_code == 200  # reading still works


def test_a_closed_survey_says_so(anon_client: TestClient, db: Database, shop: Any) -> None:
    with db.session(write=True) as s:
        survey = create_survey(s, name="Autumn", title="Autumn check-in", questions=[QuestionSpec("yesno", "Ok?")])
        open_survey(s, survey.id)
    token = link_for(db, shop.grace, survey.id)
    f = fields(db, survey.id)
    with db.session(write=True) as s:
        close_survey(s, survey.id)
    page = anon_client.get(f"/s/{token}")
    assert page.status_code == 410 and "This survey has closed" in page.text and "Autumn check-in" in page.text
    assert anon_client.post(f"/s/{token}", data={f["yesno"]: "yes"}).status_code == 410
    assert stored(db, shop.grace) is None


def test_every_kind_of_question_works_as_a_plain_form(anon_client: TestClient, db: Database, shop: Any) -> None:
    with db.session(write=True) as s:
        survey = create_survey(s, name="Kinds", title="Kinds", questions=[
            QuestionSpec("csat", "Happy?"), QuestionSpec("rank", "What matters?", options=("Price", "Fit", "Care")),
            QuestionSpec("yesno", "Back soon?")])
        open_survey(s, survey.id)
    token = link_for(db, shop.grace, survey.id)
    f = fields(db, survey.id)
    sent = anon_client.post(f"/s/{token}", data={f["csat"]: "4", f"{f['rank']}.2": "1", f"{f['rank']}.1": "2",
                                                f["yesno"]: "yes"})
    assert sent.status_code == 303
    response = stored(db, shop.grace)
    assert response is not None and list(response.answers.values()) == [4, ["Care", "Fit"], True]
    again = anon_client.get(f"/s/{token}").text
    assert re.search(rf'name="{f["rank"]}\.2">.*?<option value="1" selected>', again, re.S)


def test_logs_hold_no_token_and_no_name(anon_client: TestClient, db: Database, shop: Any,
                                        caplog: pytest.LogCaptureFixture) -> None:
    token = link_for(db, shop.grace)
    f = fields(db)
    with caplog.at_level(logging.DEBUG):
        anon_client.get(f"/s/{token}")
        anon_client.post(f"/s/{token}", data={f["nps"]: "7", f["text"]: "grace-secret-text"})
        anon_client.get(f"/s/{'Z' * 43}")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("ravingfans", "uvicorn")))
    assert token not in logged and "Grace" not in logged and "grace-secret-text" not in logged


def test_real_server_round_trip(live_server: Any, db: Database, shop: Any) -> None:
    token = link_for(db, shop.grace)
    f = fields(db)
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=10) as http:
        assert http.get(f"/s/{token}").status_code == 200
        sent = http.post(f"/s/{token}", data={f["nps"]: "8", f["text"]: "Ça va très bien 👍"})
        assert sent.status_code == 303
        assert "Thank you, Grace!" in http.get(sent.headers["location"]).text
        cross = http.post(f"/s/{token}", data={f["nps"]: "0"}, headers={"origin": "https://evil.example"})
        assert cross.status_code == 403
    response = stored(db, shop.grace)
    assert response is not None and response.nps == 8
    assert list(response.answers.values())[1] == "Ça va très bien 👍"
    assert token not in live_server.output()


# --- a real browser, with and without JavaScript ----------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_browser_answers_on_a_phone(live_server: Any, db: Database, shop: Any, javascript: bool) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    token = link_for(db, shop.ada, language="es")
    problems: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context(java_script_enabled=javascript, base_url=live_server.url,
                                          viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            tab = context.new_page()
            tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            tab.on("pageerror", lambda exc: problems.append(str(exc)))
            tab.goto(f"/s/{token}")
            expect(tab.get_by_role("heading", level=1)).to_have_text("¿Qué tal lo estamos haciendo?")
            group = tab.get_by_role("group", name="¿Qué tal lo estamos haciendo?")
            nine = group.get_by_role("radio", name="9", exact=True)
            nine.tap() if javascript else nine.click()  # the button-like number covers the whole touch target
            expect(nine).to_be_checked()
            tab.get_by_role("textbox", name="¿Cómo podemos mejorar?").fill("Más tallas, por favor <3")
            tab.get_by_role("button", name="Enviar mis respuestas").click()
            expect(tab.get_by_role("heading", level=1)).to_have_text("¡Gracias, Ada!")
            assert tab.url.endswith(f"/s/{token}/thanks")
            tab.get_by_role("link", name="Cambiar mis respuestas").click()
            expect(tab.get_by_role("radio", name="9", exact=True)).to_be_checked()
            expect(tab.get_by_role("textbox", name="¿Cómo podemos mejorar?")).to_have_value("Más tallas, por favor <3")
            assert tab.evaluate("document.documentElement.scrollWidth") <= 390 if javascript else True
        finally:
            browser.close()
    assert problems == []
    response = stored(db, shop.ada)
    assert response is not None and response.nps == 9 and response.channel == "web"
    assert "Más tallas, por favor <3" in response.answers.values()


def test_every_text_of_the_page_and_the_default_survey_is_translated() -> None:
    from babel.messages.extract import extract_from_dir

    from ravingfans.i18n import translations
    from ravingfans.services import surveys
    from ravingfans.web.templating import TEMPLATES_DIR

    found = extract_from_dir(str(TEMPLATES_DIR / "public_survey"), method_map=[("**.html", "jinja2")],
                             options_map={"**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}})
    ids = {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}
    assert {"Send my answers", "This link does not work", "Thank you!"} <= ids
    ids |= {surveys.DEFAULT_TITLE, *(prompt for _kind, prompt, _req in surveys.DEFAULT_QUESTIONS),
            surveys.MSG_REQUIRED, *surveys.MSG_SCALE.values(), surveys.MSG_TEXT_LONG, surveys.MSG_TEXT_BAD,
            surveys.MSG_YESNO, surveys.MSG_RANK, surveys.MSG_ONE}
    spanish = translations("es")
    untranslated = sorted(m for m in ids if spanish.gettext(m) == m and m not in {"No"})
    assert untranslated == []
