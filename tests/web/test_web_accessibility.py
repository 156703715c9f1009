"""Accessibility of the main pages, checked by axe-core (vendored under tests/web/vendor) in real Chromium.

The check runs the WCAG 2.0/2.1/2.2 A and AA rules and fails on any serious or critical violation.
axe is injected with the page's CSP bypassed for the test browser only: the app itself runs no
inline script, and the tool is not part of what it serves.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from signin import sign_in_page

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.services.scoring import score_database

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium"),
]


def serious_violations(tab: Any) -> list[str]:
    """Run axe on the open page; each serious or critical violation as 'rule: first offending element'."""
    tab.add_script_tag(path=str(AXE))
    result = tab.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    found = []
    for violation in result["violations"]:
        if violation["impact"] in ("serious", "critical"):
            target = violation["nodes"][0]["target"] if violation["nodes"] else "?"
            found.append(f"{violation['id']} ({violation['impact']}): {target} — {violation['help']}")
    return found


def test_main_pages_have_no_serious_accessibility_violations(live_server: Any, db: Database, shop: Any,
                                                              tmp_path: Path) -> None:
    settings = Settings(database_url=str(db.engine.url.render_as_string(hide_password=False)),
                        time_zone="Asia/Tokyo", currency="EUR", _env_file=None)
    score_database(db.engine, settings)
    survey_id = _answered_survey(db, settings, shop.ada)
    pages = ["/login", "/", "/customers", f"/customers/{shop.ada}", "/fans", "/slipping", "/team",
             "/customers?q=zzz-nobody", "/search?q=lov", "/search?q=grcae", f"/customers/{shop.ada}/edit",
             "/settings", "/users", f"/customers/{shop.ada}/erase", "/surveys", "/surveys/new",
             f"/surveys/{survey_id}", "/surveys/results"]
    report: dict[str, list[str]] = {}
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context(base_url=live_server.url, bypass_csp=True)
            tab = context.new_page()
            tab.goto("/login")
            report["/login"] = serious_violations(tab)
            sign_in_page(tab)
            for path in pages[1:]:
                tab.goto(path)
                report[path] = serious_violations(tab)
                tab.screenshot(path=str(tmp_path / f"a11y{path.replace('/', '_') or '_home'}.png"), full_page=True)
        finally:
            browser.close()
    assert set(report) == set(pages)
    assert {path: found for path, found in report.items() if found} == {}


def _answered_survey(db: Database, settings: Settings, customer_id: int) -> int:
    """The default survey with one answer in it, analysed, so the results page shows every section."""
    from ravingfans.services import listening, surveys

    with db.session(write=True) as s:
        survey = surveys.default_survey(s)
        nps_q, text_q = (str(q.id) for q in survey.questions)
        surveys.record_answers_for_customer(s, survey.id, customer_id, {nps_q: 6, text_q: "I wish you had more sizes"},
                                            None, "store")
        listening.analyse_answers(s, settings)
        return survey.id


def test_the_customers_survey_page_has_no_serious_accessibility_violations(live_server: Any, db: Database,
                                                                           shop: Any) -> None:
    from ravingfans.services import survey_audiences, surveys

    settings = Settings(database_url=str(db.engine.url.render_as_string(hide_password=False)), _env_file=None)
    with db.session(write=True) as s:
        survey = surveys.default_survey(s)
        link = survey_audiences.issue_link(s, survey.id, shop.grace, settings=settings)
    path = "/s/" + link.url.rsplit("/s/", 1)[1]
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_context(base_url=live_server.url, bypass_csp=True,
                                      viewport={"width": 390, "height": 844}).new_page()
            tab.goto(path)
            form = serious_violations(tab)
            tab.get_by_role("radio", name="9", exact=True).click()
            tab.get_by_role("button", name="Send my answers").click()
            tab.wait_for_url(lambda url: url.endswith("/thanks"))
            thanks = serious_violations(tab)
        finally:
            browser.close()
    assert (form, thanks) == ([], [])


def test_the_checker_finds_a_planted_violation(live_server: Any) -> None:
    """The check itself can fail: an image without a text alternative is reported as critical."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_context(base_url=live_server.url, bypass_csp=True).new_page()
            tab.goto("/login")
            tab.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/x.png\">')")
            found = serious_violations(tab)
        finally:
            browser.close()
    assert any(line.startswith("image-alt (critical)") for line in found)
