"""Word-of-mouth pages: the profile's section and its mention form, the advocates list and its CSV, who may do what."""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from signin import sign_in_page
from sqlalchemy import func, select, update
from test_web_accessibility import CHROMIUM, serious_violations

from ravingfans.db import Database
from ravingfans.db.models import Customer, CustomerScore, Mention, ScoreRun
from ravingfans.services import word_of_mouth as wom
from ravingfans.web.formatting import format_money

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ClientAs = Callable[[str], TestClient]


def refer(db: Database, customer_id: int, referrer_id: int) -> None:
    with db.session(write=True) as s:
        s.execute(update(Customer).where(Customer.id == customer_id).values(referred_by_id=referrer_id))


def scored(db: Database, clvs: dict[int, float | None]) -> int:
    """A scoring run giving these customers these lifetime values; its id."""
    with db.session(write=True) as s:
        run = ScoreRun(created_at=datetime(2024, 6, 1, tzinfo=UTC), observation_end=date(2024, 6, 1),
                       customers=len(clvs), model="bgnbd", params={})
        s.add(run)
        s.flush()
        s.add_all(CustomerScore(run_id=run.id, customer_id=cid, first_purchase=date(2024, 1, 5),
                                last_purchase=date(2024, 1, 5), purchases=1, frequency=0, recency=0.0, T=10.0,
                                monetary_value=50.0, total_spend=50.0, days_since_last=3.0, R=3, F=1, M=3, FM=2,
                                segment="Loyal", clv=clv) for cid, clv in clvs.items())
        return run.id


def mentions(db: Database) -> list[Mention]:
    with db.session() as s:
        rows = list(s.scalars(select(Mention).order_by(Mention.id)))
        s.expunge_all()
        return rows


def section(page: str, element_id: str) -> str:
    """The text of the element with this id, up to its closing tag (enough for one value)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert found is not None, element_id
    return html.unescape(found.group(1)).strip()


def form_defaults(page: str, form_id: str) -> tuple[str, dict[str, str]]:
    """A form's action and the values a browser would send untouched: text fields, first or selected options."""
    form = re.search(rf'<form[^>]*action="([^"]+)"[^>]*id="{form_id}"(.*?)</form>', page, re.S)
    assert form is not None, form_id
    body = form.group(2)
    values = {m.group(1): html.unescape(m.group(2) or "") for m in re.finditer(
        r'<input type="(?:text|url|date|hidden)" name="(\w+)"[^>]*?(?:value="([^"]*)")?[^>]*>', body)}
    for select_match in re.finditer(r'<select name="(\w+)">(.*?)</select>', body, re.S):
        options = re.findall(r'<option value="([^"]*)"( selected)?', select_match.group(2))
        chosen = next((v for v, sel in options if sel), options[0][0])
        values[select_match.group(1)] = chosen
    values.update({name: "" for name in re.findall(r'<textarea name="(\w+)"', body)})
    return html.unescape(form.group(1)), values


def test_the_profile_shows_referrals_with_their_revenue_and_worth_in_words(client: TestClient, db: Database,
                                                                           shop: Any) -> None:
    refer(db, shop.grace, shop.ada)  # Grace: 900.00 spent, and a cancelled 5000.00 that does not count
    refer(db, shop.anna, shop.ada)
    refer(db, shop.ada, shop.linus)
    page = client.get(f"/customers/{shop.ada}").text
    assert section(page, "referral-count") == "2"
    assert section(page, "referral-revenue") == format_money(Decimal("915.00"), "EUR")
    assert section(page, "worth-with-referrals") == "—"  # nobody scored yet
    assert "run <code>ravingfans score</code>" in page
    table = re.search(r'id="referred-customers".*?</table>', page, re.S)
    assert table is not None and "Grace Hopper" in table.group(0) and format_money(Decimal("900.00"), "EUR") in \
        table.group(0)
    assert re.search(rf'id="wom-referred-by"><a href="/customers/{shop.linus}">Linus Torvalds</a>', page)
    run_id = scored(db, {shop.ada: 100.0, shop.grace: 40.0, shop.anna: None})
    page = client.get(f"/customers/{shop.ada}").text
    with db.session() as s:
        value = wom.referral_value(s, shop.ada)
    assert (value.run_id, value.own_clv, value.clv, value.worth) == (run_id, 100.0, 40.0, 140.0)
    assert section(page, "referral-clv") == format_money(40.0, "EUR")
    assert section(page, "worth-with-referrals") == format_money(value.worth, "EUR")
    rule = re.sub(r"\s+", " ", section(page, "worth-rule"))
    assert "own lifetime value" in rule and "plus the lifetime value of the customers they referred" in rule
    assert f"latest scoring run (#{value.run_id}" in rule


def test_a_customer_who_referred_nobody_says_so(client: TestClient, shop: Any) -> None:
    page = client.get(f"/customers/{shop.anna}").text
    assert 'id="referred-none"' in page and 'id="mentions-none"' in page and section(page, "referral-count") == "0"


def test_staff_record_a_mention_in_two_actions(client_as: ClientAs, db: Database, shop: Any) -> None:
    staff = client_as("staff")
    page = staff.get(f"/customers/{shop.ada}")  # action 1: open the profile
    action, values = form_defaults(page.text, "mention-form")
    assert action == f"/customers/{shop.ada}/mentions" and values["kind"] == "review"
    answer = staff.post(action, data=values | {"where": "Google"})  # action 2: type where, press the button
    assert answer.status_code == 303 and answer.headers["location"].endswith("saved=mention#mentions")
    [row] = mentions(db)
    assert (row.customer_id, row.kind, row.where, row.sentiment, row.url) == (shop.ada, "review", "Google", None, None)
    shown = staff.get(answer.headers["location"]).text
    assert section(shown, "mention-saved") == "Mention recorded."
    assert f'id="mention-{row.id}"' in shown and "Review · Google" in shown
    assert f"/mentions/{row.id}/edit" not in shown  # staff do not correct mentions


def test_every_field_of_the_form_is_kept(client: TestClient, db: Database, shop: Any) -> None:
    answer = client.post(f"/customers/{shop.ada}/mentions", data={
        "kind": "social_post", "where": "Instagram", "url": "https://instagr.am/p/abc?x=1&y=2", "sentiment": "praise",
        "note": "Loved the boots", "employee_id": str(shop.employee), "occurred_at": "2024-03-02"})
    assert answer.status_code == 303
    [row] = mentions(db)
    assert (row.kind, row.where, row.url, row.sentiment, row.note, row.employee_id) == (
        "social_post", "Instagram", "https://instagr.am/p/abc?x=1&y=2", 1, "Loved the boots", shop.employee)
    page = client.get(f"/customers/{shop.ada}").text
    assert '<a href="https://instagr.am/p/abc?x=1&amp;y=2" rel="nofollow noopener noreferrer">' in page
    assert "heard by Sam Seller" in page and "Praise" in page


def test_hostile_text_is_escaped_and_hostile_links_are_refused(client: TestClient, db: Database, shop: Any) -> None:
    script, img = "<script>alert('where')</script>", "<img src=x onerror=alert(1)>"
    assert client.post(f"/customers/{shop.ada}/mentions", data={
        "kind": "review", "where": script, "note": img, "url": "https://example.com/a"}).status_code == 303
    for url in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<script>alert(1)</script>",
                'https://example.com/" onmouseover="alert(1)', "//evil.example/"):
        refused = client.post(f"/customers/{shop.ada}/mentions", data={"kind": "review", "url": url})
        assert refused.status_code == 422, url
        assert "Web address" in refused.text and "<script>alert(1)" not in refused.text
    assert len(mentions(db)) == 1
    for path in (f"/customers/{shop.ada}", "/advocates"):
        page = client.get(path).text
        assert script not in page and img not in page, path
        assert "&lt;script&gt;alert(&#39;where&#39;)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert 'href="javascript:' not in page.lower()


def test_managers_correct_and_delete_mentions_and_a_second_delete_changes_nothing(
        client_as: ClientAs, db: Database, shop: Any) -> None:
    staff, manager = client_as("staff"), client_as("manager")
    staff.post(f"/customers/{shop.ada}/mentions", data={"kind": "review", "where": "Google", "sentiment": "praise"})
    [row] = mentions(db)
    change = {"kind": "told_friend", "where": "Her sister", "sentiment": "complaint", "note": "Too tight"}
    assert staff.post(f"/mentions/{row.id}/edit", data=change).status_code == 403
    assert staff.post(f"/mentions/{row.id}/delete").status_code == 403
    page = manager.get(f"/customers/{shop.ada}").text
    assert form_defaults(page, "mention-form")[0] == f"/customers/{shop.ada}/mentions"  # the quick form, and more:
    assert f'action="/mentions/{row.id}/edit"' in page and f'action="/mentions/{row.id}/delete"' in page
    fixed = manager.post(f"/mentions/{row.id}/edit", data=change)
    assert fixed.status_code == 303
    assert fixed.headers["location"] == f"/customers/{shop.ada}?saved=mention_edited#mentions"
    [after] = mentions(db)
    assert (after.kind, after.where, after.sentiment, after.note, after.occurred_at) == (
        "told_friend", "Her sister", -1, "Too tight", row.occurred_at)
    gone = manager.post(f"/mentions/{row.id}/delete", data={"customer_id": str(shop.ada)})
    assert gone.status_code == 303 and gone.headers["location"].endswith("saved=mention_deleted#mentions")
    assert mentions(db) == []
    again = manager.post(f"/mentions/{row.id}/delete", data={"customer_id": str(shop.ada)})
    assert again.status_code == 303 and again.headers["location"].endswith("saved=mention_gone#mentions")
    assert "deleted already" in manager.get(again.headers["location"]).text
    assert manager.post("/mentions/999999/delete").headers["location"] == "/advocates?saved=mention_gone"
    assert manager.post("/mentions/999999/edit", data=change).status_code == 404


def test_the_advocates_page_ranks_by_what_their_referrals_spent(client_as: ClientAs, db: Database,
                                                                shop: Any) -> None:
    refer(db, shop.grace, shop.linus)  # 900.00
    refer(db, shop.anna, shop.ada)  # 15.00
    staff = client_as("staff")
    staff.post(f"/customers/{shop.hostile}/mentions", data={"kind": "press", "sentiment": "praise"})
    page = staff.get("/advocates")
    assert page.status_code == 200
    table = re.search(r'id="advocates".*?</table>', page.text, re.S)
    assert table is not None
    order = re.findall(r'<a href="/customers/(\d+)#word-of-mouth">', table.group(0))
    assert order == [str(shop.linus), str(shop.ada), str(shop.hostile)]
    assert format_money(Decimal("900.00"), "EUR") in table.group(0)
    assert 'id="export-csv"' not in page.text  # the download is for managers
    assert staff.get("/advocates.csv").status_code == 403
    assert staff.get("/advocates?limit=7").status_code == 422


def test_managers_download_the_advocates_as_csv(client_as: ClientAs, db: Database, shop: Any) -> None:
    refer(db, shop.grace, shop.hostile)
    manager = client_as("manager")
    assert 'href="/advocates.csv"' in manager.get("/advocates").text
    answer = manager.get("/advocates.csv?limit=25")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert re.match(r'attachment; filename="advocates-\d{4}-\d{2}-\d{2}\.csv"', answer.headers["content-disposition"])
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == list(wom.ADVOCATE_HEADER)
    assert rows[1][1] == str(shop.hostile) and rows[1][4:6] == ["1", "900.00"] and len(rows) == 2


def test_an_empty_book_has_no_advocates_yet(client: TestClient, db: Database) -> None:
    page = client.get("/advocates").text
    assert 'id="advocates-none"' in page
    with db.session() as s:
        assert int(s.scalar(select(func.count()).select_from(Mention)) or 0) == 0


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
def test_the_pages_have_no_serious_accessibility_violations(live_server: Any, db: Database, shop: Any) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    refer(db, shop.grace, shop.ada)
    with db.session(write=True) as s:
        wom.add_mention(s, shop.ada, wom.parse_mention({"kind": "review", "where": "Google", "sentiment": "praise",
                                                         "url": "https://g.example/r/1", "note": "Five stars"}))
    report = {}
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_context(base_url=live_server.url, bypass_csp=True).new_page()
            sign_in_page(tab)  # an owner: the profile shows the correct-or-delete forms too
            for path in (f"/customers/{shop.ada}", "/advocates"):
                tab.goto(path)
                tab.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")
                report[path] = serious_violations(tab)
        finally:
            browser.close()
    assert report == {f"/customers/{shop.ada}": [], "/advocates": []}
