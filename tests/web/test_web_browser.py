"""Real Chromium against a real `ravingfans serve`: search, open a profile, add a note, log a moment."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from signin import sign_in_page

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


def test_search_open_profile_add_note_and_log_a_moment(page: playwright_api.Page, shop: Any) -> None:
    expect = playwright_api.expect
    page.goto("/customers")
    expect(page.locator("h1")).to_have_text("Customers")

    page.get_by_label("Find a customer").fill("LOVE")
    page.get_by_role("button", name="Search").last.click()
    rows = page.locator("#customers tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="Ada Lovelace").click()

    expect(page.locator("#customer-name")).to_have_text("Ada Lovelace")
    expect(page.locator("#total-spend")).to_have_text("€160.50")
    expect(page.locator("#preferences")).to_contain_text("green tea")

    hostile = "Size 38 <script>alert('pwned')</script> & <b>bold</b>"
    notes = page.locator("#note-form")
    notes.get_by_label("Note").fill(hostile)
    notes.get_by_label("Your name").fill("Kim")
    notes.get_by_role("button", name="Add note").click()
    expect(page.locator(".flash")).to_have_text("Note added.")
    first_note = page.locator("ol.notes li").first
    expect(first_note.locator(".note-body")).to_have_text(hostile)  # shown as text, not run or rendered
    expect(first_note).to_contain_text("Kim")
    assert page.locator("ol.notes b").count() == 0

    moment = page.locator("#moment-form")
    moment.get_by_label("Channel").select_option("phone")
    moment.get_by_label("Kind").select_option("courtesy_call")
    moment.get_by_label("Served by").select_option(label="Sam Seller")
    moment.get_by_label("Magic").check()
    moment.get_by_label("What happened").fill("Asked how the boots are holding up — delighted")
    moment.get_by_role("button", name="Log moment").click()
    expect(page.locator(".flash")).to_have_text("Moment of truth logged.")
    latest = page.locator("ol.timeline li").first
    expect(latest).to_contain_text("Asked how the boots are holding up — delighted")
    expect(latest).to_contain_text("served by Sam Seller")
    expect(latest.locator(".badge")).to_have_text("Magic")
    expect(page.locator("#moments-title .count")).to_have_text("2")


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
