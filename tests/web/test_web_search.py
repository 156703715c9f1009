"""Search from every page: the results page, the htmx fragment, the header's box, escaping, roles and query counts."""

from __future__ import annotations

import re
import shutil
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from signin import sign_in_as, sign_in_page
from sqlcount import counted

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Customer
from ravingfans.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

HX = {"HX-Request": "true"}
HIT = re.compile(r'<a href="/customers/(\d+)"><span class="hit-name">(.*?)</span>')


def hits(html: str) -> list[str]:
    """Names of the customers a results list links to, in order."""
    return [name for _id, name in HIT.findall(html)]


def test_the_results_page_finds_by_name_email_and_phone(client: TestClient, shop: Any) -> None:
    page = client.get("/search", params={"q": "ada"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<!doctype html>" in page.text and hits(page.text) == ["Ada Lovelace"]
    assert 'value="ada"' in page.text  # the query stays in the box
    assert hits(client.get("/search", params={"q": "GRACE@navy"}).text) == ["Grace Hopper"]
    assert hits(client.get("/search", params={"q": "+44 20 7946"}).text) == ["Anna Zed"]
    nothing = client.get("/search", params={"q": "zzzz"}).text
    assert hits(nothing) == [] and "No customer’s name, e-mail or phone starts with “zzzz”" in nothing
    assert "Type the start of a first or last name" in client.get("/search").text


def test_typos_are_forgiven(client: TestClient, shop: Any) -> None:
    page = client.get("/search", params={"q": "lovlace"}).text
    assert hits(page) == ["Ada Lovelace"] and "similar names" in page


def test_htmx_gets_a_fragment_with_a_status_for_screen_readers(client: TestClient, shop: Any) -> None:
    fragment = client.get("/search", params={"q": "gr"}, headers=HX)
    assert fragment.status_code == 200 and fragment.headers["vary"] == "HX-Request"
    text = fragment.text
    assert "<html" not in text and "<header" not in text  # only the list
    assert hits(text) == ["Grace Hopper"]
    assert '<span id="search-status" class="visually-hidden" role="status" hx-swap-oob="true">1 customer found</span>' \
        in text
    assert 'href="/search?q=gr"' in text  # the way to all results
    empty = client.get("/search", params={"q": ""}, headers=HX).text
    assert hits(empty) == [] and 'hx-swap-oob="true"></span>' in empty  # clearing the box clears the list


def test_every_page_has_the_search_box_wired_to_htmx_without_inline_script(client: TestClient, shop: Any) -> None:
    for path in ("/", "/customers", f"/customers/{shop.ada}", "/fans", "/search?q=a"):
        html = client.get(path).text
        assert 'action="/search"' in html and 'hx-get="/search"' in html, path
        assert 'hx-trigger="input changed delay:200ms, search"' in html and 'hx-target="#search-results"' in html
        assert '<div id="search-results" class="search-results"></div>' in html
        assert 'role="status"' in html and 'aria-controls="search-results"' in html
        assert '<script src="/static/vendor/htmx/htmx.min.js' in html
        assert re.findall(r"<script\b[^>]*>\s*[^<\s]", html) == []  # no script element has a body
        config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'>', html)
        assert config and '"includeIndicatorStyles":false' in config.group(1) and '"allowEval":false' in config.group(1)
        assert '"historyCacheSize":0' in config.group(1)  # no copies of personal pages in localStorage


def test_htmx_posts_carry_the_csrf_token(client: TestClient, shop: Any) -> None:
    html = client.get("/").text
    token = client.headers["x-csrf-token"]
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in html


def test_the_vendored_htmx_is_served_with_its_licence(client: TestClient) -> None:
    script = client.get("/static/vendor/htmx/htmx.min.js")
    assert script.status_code == 200 and "htmx" in script.text and len(script.text) > 40_000
    assert "Zero-Clause BSD" in client.get("/static/vendor/htmx/LICENSE").text


def test_hostile_names_and_queries_are_shown_as_text(client: TestClient, shop: Any) -> None:
    for headers in ({}, HX):
        found = client.get("/search", params={"q": "<img"}, headers=headers).text
        assert "&lt;img src=x onerror=alert(1)&gt; &lt;b&gt;Bold&lt;/b&gt;" in found
        assert "<img src=x" not in found and "<b>Bold" not in found
        odd = client.get("/search", params={"q": '"><script>alert(1)</script>'}, headers=headers).text
        assert "<script>alert(1)" not in odd and "&lt;script&gt;alert(1)&lt;/script&gt;" in odd


def test_strangers_are_sent_to_sign_in(anon_client: TestClient) -> None:
    assert anon_client.get("/search?q=ada").headers["location"] == "/login?next=%2Fsearch%3Fq%3Dada"
    htmx = anon_client.get("/search?q=ada", headers=HX)  # htmx gets no page to swap in: it goes to the form
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login?next=%2Fsearch%3Fq%3Dada"


def test_bad_queries_get_a_422(client: TestClient) -> None:
    assert client.get("/search", params={"q": "a" * 101}).status_code == 422
    assert client.get("/search", params={"q": "a\x00b"}).status_code == 422


def test_search_queries_do_not_grow_with_the_customers(db: Database, web_settings: Settings, shop: Any) -> None:
    used = []
    with TestClient(create_app(web_settings, database=db)) as client:
        sign_in_as(client, db, "staff")
        for batch in range(2):
            with db.session(write=True) as s:
                at = datetime(2024, 1, 1, tzinfo=UTC)
                s.add_all(Customer(first_name=f"Gr{batch}{i:03d}", last_name="Grant", email=f"g{batch}{i}@example.com",
                                   created_at=at, updated_at=at) for i in range(10 + 20 * batch))  # 11, then 31 "gr": more than 8, fewer than 50
            counts = []
            for params, headers in (({"q": "gr"}, HX), ({"q": "gr"}, {}), ({"q": "grant gr"}, {}),
                                    ({"q": "hoper"}, {}), ({"q": "+1415"}, HX)):
                client.get("/search", params=params, headers=headers)  # warm: the vocabulary of names loads once
                with counted(db) as statements:
                    assert client.get("/search", params=params, headers=headers).status_code == 200
                counts.append(len(statements))
            used.append(counts)
    assert used[0] == used[1] and all(used[0]), used


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
def test_browser_results_appear_as_you_type_under_the_policy(live_server: Any, shop: Any, tmp_path: Any) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_page(base_url=live_server.url)
            tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            tab.on("pageerror", lambda exc: problems.append(str(exc)))
            sign_in_page(tab)
            box = tab.get_by_role("searchbox", name="Search customers by name, e-mail or phone")
            box.click()
            box.press_sequentially("lov", delay=30)
            found = tab.locator("#search-results a", has_text="Ada Lovelace")
            found.wait_for(timeout=10_000)
            assert tab.locator("#search-status").text_content() == "1 customer found"
            tab.screenshot(path=str(tmp_path / "search-as-you-type.png"))
            box.fill("")
            box.press_sequentially("grcae", delay=30)  # a typo
            tab.locator("#search-results a", has_text="Grace Hopper").wait_for(timeout=10_000)
            tab.locator("#search-results a", has_text="Grace Hopper").click()
            tab.wait_for_url(f"**/customers/{shop.grace}")
            tab.get_by_role("button", name="Misery").click()  # one click logs a moment
            tab.wait_for_url(f"**/customers/{shop.grace}?saved=moment#moments")
            assert "Moment of truth logged." in tab.content()
        finally:
            browser.close()
    assert problems == []  # no CSP violation, no script error
