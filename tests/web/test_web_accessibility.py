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
    pages = ["/login", "/", "/customers", f"/customers/{shop.ada}", "/fans", "/slipping", "/team",
             "/customers?q=zzz-nobody", "/search?q=lov", "/search?q=grcae", f"/customers/{shop.ada}/edit",
             "/settings", "/users", f"/customers/{shop.ada}/erase"]
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
