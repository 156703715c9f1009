"""The slipping-fans page: the current run's list by value at risk, reasons in words, one-click call and note."""

from __future__ import annotations

import html
import random
import shutil
import warnings
from html.parser import HTMLParser
from typing import Any

import pytest
from signin import sign_in_page
from test_web_scores import FIRST_DAY, LAST_DAY, NOW, add_orders, add_shopper
from markupsafe import escape
from sqlalchemy import func, select

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Customer, CustomerScore, Interaction, Note
from ravingfans.services import scoring
from ravingfans.web.formatting import format_money, format_number, format_percent

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nags about httpx vs httpx2 at import
    from fastapi.testclient import TestClient

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Rows(HTMLParser):
    """Body rows of the table with id ``slipping``: each row's id and its cells' text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._in_table = self._in_body = False
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("id") == "slipping":
            self._in_table = True
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append((str(dict(attrs).get("id")), []))
        elif self._in_body and tag == "td" and self._cell is None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = self._in_body = False
        elif self._in_body and tag == "td" and self._cell is not None:
            self.rows[-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def shown(text: str) -> list[dict[str, str]]:
    """The list's rows as {id, rank, name, segment, risk, days, p_alive, reason}."""
    keys = ("rank", "name", "segment", "risk", "days", "p_alive", "reason")
    return [{"id": row_id, **dict(zip(keys, cells[:7], strict=True))} for row_id, cells in Rows(text).rows]


def seed(db: Database, shop: Any, *, buyers: int = 60, slippers: int = 4) -> list[int]:
    """Ordinary buyers plus big, frequent fans who stopped long ago (the hostile name among them)."""
    rng = random.Random(5)
    with db.session(write=True) as s:
        made = [Customer(first_name="Buyer", last_name=f"{i:03d}", created_at=FIRST_DAY, updated_at=FIRST_DAY)
                for i in range(buyers)]
        fans = [Customer(first_name="Faded", last_name=f"Fan {i}", created_at=FIRST_DAY, updated_at=FIRST_DAY)
                for i in range(slippers)]
        s.add_all(made + fans)
        s.flush()
        buyer_ids, fan_ids = [c.id for c in made], [c.id for c in fans]
    for customer_id in buyer_ids:
        add_shopper(db, customer_id, rng, max_spend=200)
    for n, customer_id in enumerate([*fan_ids, shop.hostile]):
        # Twelve visits a fortnight apart, big baskets, then silence for most of a year.
        start = 60 + 7 * n
        add_orders(db, customer_id, [start + 14 * k for k in range(12)], [900.0 + 150 * n] * 12)
    return [*fan_ids, shop.hostile]


@pytest.fixture
def planted(db: Database, shop: Any, web_settings: Settings) -> list[int]:
    """The seeded shop plus buyers and planted slipping fans, scored as of LAST_DAY."""
    fans = seed(db, shop)
    scoring.score_database(db.engine, web_settings, until=LAST_DAY, clock=NOW)
    return fans


def stored_list(db: Database) -> list[tuple[CustomerScore, str]]:
    """The newest run's slipping fans in rank order, with display names, straight from the table."""
    with db.session() as s:
        run_id = s.scalar(select(func.max(CustomerScore.run_id)))
        rows = s.execute(select(CustomerScore, Customer).join(Customer, Customer.id == CustomerScore.customer_id)
                         .where(CustomerScore.run_id == run_id, CustomerScore.slipping_rank.is_not(None))
                         .order_by(CustomerScore.slipping_rank)).all()
        return [(score, customer.display_name) for score, customer in rows]


def count(db: Database, model: type[Any], customer_id: int) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(model.customer_id == customer_id)) or 0)


def test_before_any_run_the_page_says_how_to_score(client: TestClient) -> None:
    page = client.get("/slipping")
    assert page.status_code == 200
    assert "Run <code>ravingfans score</code> to find slipping fans." in page.text
    assert 'id="slipping"' not in page.text


def test_list_is_ranked_by_value_at_risk_with_reasons(client: TestClient, db: Database,
                                                       planted: list[int]) -> None:
    expected = stored_list(db)
    assert {cid for cid in planted} <= {score.customer_id for score, _ in expected}, "planted fans are found"
    rows = shown(client.get("/slipping?limit=100").text)
    assert [r["id"] for r in rows] == [f"fan-{score.customer_id}" for score, _ in expected][:100]
    for row, (score, name) in zip(rows, expected, strict=True):
        assert row["rank"] == str(score.slipping_rank)
        assert row["name"] == name
        assert row["risk"] == format_money(score.value_at_risk, "EUR")
        assert row["days"] == format_number(score.days_since_last, 0)
        tiny = score.p_alive is not None and score.p_alive < 0.005
        assert row["p_alive"] == ("<1%" if tiny else format_percent(score.p_alive))
        assert row["reason"] == score.slipping_reason and row["reason"]
    risks = [score.value_at_risk for score, _ in expected]
    assert risks == sorted(risks, reverse=True)
    assert f'href="/customers/{planted[0]}"' in client.get("/slipping").text


def test_limit_selector_cuts_the_list_and_refuses_other_sizes(client: TestClient, db: Database,
                                                               planted: list[int]) -> None:
    total = len(stored_list(db))
    for limit in (25, 50, 100):
        page = client.get(f"/slipping?limit={limit}")
        assert len(shown(page.text)) == min(limit, total)
        assert f'<option value="{limit}" selected>' in page.text
    for bad in ("30", "0", "many"):
        page = client.get(f"/slipping?limit={bad}")
        assert page.status_code == 422, bad
        assert "Show: must be one of 25, 50, 100" in page.text or "Input should be a valid integer" in page.text


def test_hostile_names_and_notes_show_as_text(client: TestClient, db: Database, shop: Any,
                                              planted: list[int]) -> None:
    page = client.get("/slipping?limit=100")
    assert "<img src=x" not in page.text and "<b>Bold</b>" not in page.text
    assert html.escape("<img src=x onerror=alert(1)>") in page.text
    hostile = "<script>alert('note')</script> & <b>call back</b>"
    done = client.post(f"/slipping/{shop.hostile}/note", data={"body": hostile})
    assert done.status_code == 303
    for address in ("/slipping?limit=100&saved=note&who=" + str(shop.hostile), f"/customers/{shop.hostile}"):
        text = client.get(address).text
        assert "<script>alert" not in text and "<b>call back</b>" not in text
    assert str(escape(hostile)) in client.get(f"/customers/{shop.hostile}").text


def test_log_a_call_lands_in_the_database_and_comes_back_to_the_row(client: TestClient, db: Database,
                                                                     planted: list[int]) -> None:
    who = planted[0]
    before = count(db, Interaction, who)
    done = client.post(f"/slipping/{who}/call", data={"limit": "25"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/slipping?limit=25&saved=call&who={who}#fan-{who}"
    with db.session() as s:
        moment = s.scalars(select(Interaction).where(Interaction.customer_id == who)
                           .order_by(Interaction.id.desc())).first()
        name = s.get(Customer, who).display_name
    assert count(db, Interaction, who) == before + 1 and moment is not None
    assert (moment.channel, moment.kind, moment.rating, moment.note, moment.employee_id) == (
        "phone", "courtesy_call", None, "", None)
    back = client.get(done.headers["location"])
    assert f"Call logged for {html.escape(name)}." in back.text
    assert f"✓ Call logged for {html.escape(name)}." in back.text.split(f'id="fan-{who}"')[1]  # at the row too
    assert f'<tr id="fan-{who}" class="current">' in back.text
    assert "Courtesy call" in client.get(f"/customers/{who}").text

    rated = client.post(f"/slipping/{who}/call", data={"rating": "magic", "note": "Coming in Saturday"})
    assert rated.status_code == 303 and rated.headers["location"] == f"/slipping?saved=call&who={who}#fan-{who}"
    with db.session() as s:
        latest = s.scalars(select(Interaction).where(Interaction.customer_id == who)
                           .order_by(Interaction.id.desc())).first()
    assert latest is not None and (latest.rating, latest.note) == (1, "Coming in Saturday")
    assert "Coming in Saturday" in client.get(f"/customers/{who}").text


def test_add_a_note_lands_in_the_database_and_shows_on_the_profile(client: TestClient, db: Database,
                                                                   planted: list[int]) -> None:
    who = planted[1]
    done = client.post(f"/slipping/{who}/note", data={"body": "  Ask about the spring boots  ", "limit": "100"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/slipping?limit=100&saved=note&who={who}#fan-{who}"
    with db.session() as s:
        bodies = list(s.scalars(select(Note.body).where(Note.customer_id == who)))
    assert bodies == ["Ask about the spring boots"]
    assert "Note added for " in client.get(done.headers["location"]).text
    assert "Ask about the spring boots" in client.get(f"/customers/{who}").text


@pytest.mark.parametrize(("action", "data", "message"), [
    ("call", {"rating": "wonderful"}, "Rating: must be one of magic, mediocre, misery"),
    ("call", {"note": "x" * 501}, "Note: at most 500 characters for a call"),
    ("call", {"note": "bad\x00byte"}, "Note: must not contain control characters"),
    ("note", {"body": "   "}, "Note: write something first"),
    ("note", {"body": "y" * 5001}, "Note: String should have at most 5000 characters"),
])
def test_bad_input_gives_a_clear_message_at_the_row_and_writes_nothing(
        client: TestClient, db: Database, planted: list[int], action: str, data: dict[str, str],
        message: str) -> None:
    who = planted[0]
    model = Interaction if action == "call" else Note
    before = count(db, model, who)
    page = client.post(f"/slipping/{who}/{action}", data={**data, "limit": "25"})
    assert page.status_code == 422
    assert message in page.text and 'role="alert"' in page.text
    assert f'<tr id="fan-{who}"' in page.text and len(shown(page.text)) <= 25
    assert 'aria-invalid="true"' in page.text
    assert count(db, model, who) == before


def test_unknown_customers_are_404_and_cross_site_posts_are_refused(client: TestClient, db: Database,
                                                                     planted: list[int]) -> None:
    assert client.post("/slipping/999999/call", data={}).status_code == 404
    assert client.post("/slipping/999999/note", data={"body": "hi"}).status_code == 404
    who = planted[0]
    before = (count(db, Interaction, who), count(db, Note, who))
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        assert client.post(f"/slipping/{who}/call", data={}, headers=headers).status_code == 403
        assert client.post(f"/slipping/{who}/note", data={"body": "csrf"}, headers=headers).status_code == 403
    assert (count(db, Interaction, who), count(db, Note, who)) == before
    assert client.get(f"/slipping/{who}/call").status_code in (404, 405)  # no state change on GET
    assert count(db, Interaction, who) == before[0]


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
def test_browser_logs_a_call_from_the_list(live_server: Any, db: Database, shop: Any,
                                           web_settings: Settings) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    fans = seed(db, shop)
    scoring.score_database(db.engine, web_settings, until=LAST_DAY, clock=NOW)
    first_id, first_name = stored_list(db)[0][0].customer_id, stored_list(db)[0][1]
    before = count(db, Interaction, first_id)
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_page(base_url=live_server.url)
            sign_in_page(tab)
            tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            tab.goto("/slipping")  # action 1: open the page
            first = tab.locator("#slipping tbody tr").first
            sync_api.expect(first).to_contain_text(first_name)
            first.get_by_role("button", name="Log a call").click()  # action 2: one click
            sync_api.expect(tab.locator("#saved")).to_have_text(f"Call logged for {first_name}.")
            assert tab.url.endswith(f"#fan-{first_id}")
        finally:
            browser.close()
    assert problems == []
    assert count(db, Interaction, first_id) == before + 1
    assert set(fans) <= {score.customer_id for score, _ in stored_list(db)}
