"""Real Chromium against a real `ravingfans serve`: search, open a profile, add a note, log a moment."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from signin import LIVE_OWNER, PASSWORD, sign_in_page

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium"),
]


@pytest.fixture
def page(live_server: Any) -> Iterator[playwright_api.Page]:
    """A fresh headless Chromium tab; fails the test on any console error (a CSP violation included)."""
    problems: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        tab = browser.new_page(base_url=live_server.url)
        sign_in_page(tab)
        tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        tab.on("pageerror", lambda exc: problems.append(str(exc)))
        tab.on("dialog", lambda dialog: problems.append(f"dialog opened: {dialog.message}"))
        try:
            yield tab
        finally:
            browser.close()
    assert problems == []


def test_sign_in_search_open_profile_log_a_moment_edit_a_note_and_see_it_after_reload(
        live_server: Any, shop: Any, tmp_path: Path) -> None:
    """The counter's day in one go, as a person clicks it, with a screenshot of every step."""
    expect = playwright_api.expect
    shots = Path(os.environ.get("SCREENSHOTS_DIR", str(tmp_path)))
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_page(base_url=live_server.url)
            tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            tab.on("pageerror", lambda exc: problems.append(str(exc)))

            tab.goto(f"/customers/{shop.ada}")  # not signed in: the sign-in form, then back here
            expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()
            tab.screenshot(path=str(shots / "1-sign-in.png"))
            tab.get_by_label("E-mail").fill(LIVE_OWNER)
            tab.get_by_label("Password").fill(PASSWORD)
            tab.get_by_role("button", name="Sign in").click()
            expect(tab.locator("#customer-name")).to_have_text("Ada Lovelace")
            tab.goto("/")

            box = tab.get_by_role("searchbox", name="Search customers by name, e-mail or phone")
            box.press_sequentially("LOVE", delay=30)
            hit = tab.locator("#search-results a", has_text="Ada Lovelace")
            expect(hit).to_be_visible()
            tab.screenshot(path=str(shots / "2-search.png"))
            hit.click()

            expect(tab.locator("#customer-name")).to_have_text("Ada Lovelace")
            expect(tab.locator("#total-spend")).to_have_text("€160.50")
            expect(tab.locator("#preferences")).to_contain_text("green tea")
            tab.screenshot(path=str(shots / "3-profile.png"), full_page=True)

            moment = tab.locator("#moment-form")  # two actions: say what happened, click how it went
            moment.get_by_label("What happened").fill("Asked how the boots are holding up — delighted")
            moment.get_by_role("button", name="Magic").click()
            expect(tab.locator(".flash")).to_have_text("Moment of truth logged.")
            latest = tab.locator("ol.timeline li").first
            expect(latest).to_contain_text("Asked how the boots are holding up — delighted")
            expect(latest.locator(".badge")).to_have_text("Magic")
            expect(tab.locator("#moments-title .count")).to_have_text("2")

            hostile = "Size 38 <script>alert('pwned')</script> & <b>bold</b>"
            notes = tab.locator("#note-form")
            notes.get_by_label("Note", exact=False).first.fill(hostile)
            notes.get_by_role("button", name="Add note").click()
            expect(tab.locator(".flash")).to_have_text("Note added.")
            first_note = tab.locator("ol.notes li").first
            expect(first_note.locator(".note-body")).to_have_text(hostile)  # shown as text, not run or rendered
            assert tab.locator("ol.notes b").count() == 0

            first_note.locator("summary").click()  # edit it inline
            first_note.get_by_label("Note text").fill("Size 38, wide fit; call when the brown boots are back")
            first_note.get_by_role("button", name="Save note").click()
            expect(tab.locator(".flash")).to_have_text("Note changed.")
            tab.reload()
            expect(tab.locator("ol.notes li").first.locator(".note-body")).to_have_text(
                "Size 38, wide fit; call when the brown boots are back")
            expect(tab.locator("ol.timeline li").first).to_contain_text("delighted")
            tab.screenshot(path=str(shots / "4-after-reload.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []  # no CSP violation, no script error
    for name in ("1-sign-in", "2-search", "3-profile", "4-after-reload"):
        assert (shots / f"{name}.png").stat().st_size > 5_000


def test_empty_note_is_stopped_and_sorting_by_spend_reorders(page: playwright_api.Page, shop: Any) -> None:
    expect = playwright_api.expect
    page.goto(f"/customers/{shop.grace}")
    page.locator("#note-form").get_by_role("button", name="Add note").click()  # blocked: the field is required
    expect(page).to_have_url(f"{page.url.split('?')[0]}")
    expect(page.locator("#notes-title .count")).to_have_text("0")

    page.goto("/customers")
    page.get_by_role("link", name="Total spend").click()
    expect(page.locator("#customers tbody tr").first).to_contain_text("Grace Hopper")
    page.get_by_role("link", name="Total spend").click()
    expect(page.locator("#customers tbody tr").first).not_to_contain_text("Grace Hopper")
