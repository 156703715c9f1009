"""Segments, lifetime value and P(alive) on the pages: the customer list, the profile's Value section, /fans."""

from __future__ import annotations

import html
import random
import shutil
import warnings
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from signin import sign_in_as, sign_in_page
from sqlcount import counted
from sqlalchemy import select

from ravingfans.analytics.scoring import FAN_SEGMENTS
from ravingfans.clock import fixed
from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Customer, CustomerScore, Order, OrderLine
from ravingfans.services import customers as customer_service
from ravingfans.services import scoring
from ravingfans.web import create_app
from ravingfans.web.formatting import format_money, format_percent

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nags about httpx vs httpx2 at import
    from fastapi.testclient import TestClient

FIRST_DAY = datetime(2022, 3, 1, 10, 0, tzinfo=UTC)
LAST_DAY = date(2024, 6, 1)  # after every seeded order, in UTC and in Tokyo
NOW = fixed(datetime(2024, 6, 3, 12, 0, tzinfo=UTC))


class Tables(HTMLParser):
    """The text of every cell of every table with an id, row by row (header rows included)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("id"):
            self._table = str(dict(attrs)["id"])
            self.tables[self._table] = []
        elif self._table and tag == "tr":
            self.tables[self._table].append([])
        elif self._table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif self._table and tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table(text: str, table_id: str) -> list[dict[str, str]]:
    """A table's body rows as {header: cell text}."""
    rows = Tables(text).tables[table_id]
    header = [h.replace(" ↕", "") for h in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def add_orders(db: Database, customer_id: int, days: list[int], amounts: list[float]) -> None:
    """Orders for a customer on the given days after FIRST_DAY, one line each."""
    with db.session(write=True) as s:
        for n, (day, amount) in enumerate(zip(days, amounts, strict=True)):
            order = Order(source="test", external_id=f"S-{customer_id}-{n}", customer_id=customer_id,
                          placed_at=FIRST_DAY + timedelta(days=day), channel="web", total=Decimal(f"{amount:.2f}"))
            order.lines.append(OrderLine(line_no=1, kind="sale", product_name="Shoes", sku="SKU-SHO", quantity=1,
                                         unit_price=Decimal(f"{amount:.2f}"), amount=Decimal(f"{amount:.2f}")))
            s.add(order)


def seed_buyers(db: Database, count: int, *, seed: int = 3, start: int = 0) -> list[int]:
    """``count`` customers with orders over two years from a buy-till-you-die process, deterministic per seed."""
    rng = random.Random(seed + start)
    ids = []
    with db.session(write=True) as s:
        made = [Customer(first_name="Buyer", last_name=f"{start + i:03d}", email=f"buyer{start + i}@example.com",
                         created_at=FIRST_DAY, updated_at=FIRST_DAY) for i in range(count)]
        s.add_all(made)
        s.flush()
        ids = [c.id for c in made]
    for customer_id in ids:
        add_shopper(db, customer_id, rng, max_spend=300)
    return ids


def add_shopper(db: Database, customer_id: int, rng: random.Random, *, max_spend: float) -> None:
    """A buy-till-you-die shopper's orders: their own rate, maybe dropping out after each purchase (BG/NBD)."""
    span = (LAST_DAY - FIRST_DAY.date()).days - 2
    rate, dropout, spend = rng.gammavariate(2.0, 1 / 90), rng.betavariate(1.0, 3.0), rng.uniform(20, max_spend)
    days = [rng.randrange(span // 2)]
    while rng.random() > dropout:
        day = days[-1] + max(1, round(rng.expovariate(rate)))
        if day >= span:
            break
        days.append(day)
    add_orders(db, customer_id, days, [spend * rng.uniform(0.7, 1.3) for _ in days])


def score(db: Database, settings: Settings, until: date = LAST_DAY) -> scoring.RunResult:
    """A scoring run as of ``until`` on a fixed clock."""
    return scoring.score_database(db.engine, settings, until=until, clock=NOW)


def stored(db: Database, run_id: int) -> dict[int, CustomerScore]:
    """A run's stored scores by customer id."""
    with db.session() as s:
        return {row.customer_id: row for row in s.scalars(select(CustomerScore).where(CustomerScore.run_id == run_id))}


def names(db: Database) -> dict[int, str]:
    """Every customer's display name by id."""
    with db.session() as s:
        return {c.id: c.display_name for c in s.scalars(select(Customer))}


@pytest.fixture
def scored(db: Database, shop: Any, web_settings: Settings) -> scoring.RunResult:
    """The seeded shop plus sixty buyers (and orders for the hostile name), scored with a fitted model."""
    seed_buyers(db, 60)
    add_orders(db, shop.hostile, [100, 400, 700], [50.0, 70.0, 65.0])
    result = score(db, web_settings)
    assert result.scoring.bgnbd is not None, result.scoring.fallback_reason  # the values under test exist
    return result


def test_list_shows_segment_value_and_p_alive_from_the_newest_run(client: TestClient, db: Database, shop: Any,
                                                                  scored: scoring.RunResult) -> None:
    page = client.get("/customers?per_page=100")
    assert page.status_code == 200
    assert f"as of {LAST_DAY.isoformat()} (scoring run #{scored.run_id})" in page.text
    rows = {row["Name"]: row for row in table(page.text, "customers")}
    who = names(db)
    scores = stored(db, scored.run_id)
    assert len(rows) == len(who) and len(scores) == len(who) - 1  # everyone but Linus has bought
    for customer_id, score_row in scores.items():
        row = next(r for name, r in rows.items() if name.startswith(who[customer_id]))
        assert row["Segment"] == score_row.segment
        assert row["Value"] == format_money(score_row.clv, "EUR") != "—"
        assert row["P(alive)"] == format_percent(score_row.p_alive) != "—"
    linus = rows["Linus Torvalds"]
    assert (linus["Segment"], linus["Value"], linus["P(alive)"]) == ("—", "—", "—")
    assert "ravingfans score</code> to see segments" not in page.text


def test_without_a_run_the_list_hints_at_scoring_and_shows_dashes(client: TestClient) -> None:
    page = client.get("/customers")
    assert "Run <code>ravingfans score</code> to see segments and value." in page.text
    rows = table(page.text, "customers")
    assert rows and all(r["Segment"] == r["Value"] == r["P(alive)"] == "—" for r in rows)
    assert client.get("/customers?sort=clv&dir=desc").status_code == 200


def test_list_sorts_by_value_both_ways_unscored_last(client: TestClient, db: Database,
                                                     scored: scoring.RunResult) -> None:
    scores = stored(db, scored.run_id)
    who = names(db)
    clv = {cid: (scores[cid].clv if cid in scores else None) for cid in who}
    valued = [cid for cid in who if clv[cid] is not None]
    unvalued = [cid for cid in who if clv[cid] is None]
    assert unvalued  # Linus at least
    for direction, reverse in (("desc", True), ("asc", False)):
        expected = (sorted(valued, key=lambda c: (clv[c], c), reverse=reverse)
                    + sorted(unvalued, reverse=reverse))
        page = client.get(f"/customers?sort=clv&dir={direction}&per_page=100")
        shown = [row["Name"].split(" ·")[0] for row in table(page.text, "customers")]
        assert shown == [who[c] for c in expected]
    header = client.get("/customers?sort=clv&dir=desc").text
    assert 'aria-sort="descending"' in header and 'href="/customers?sort=clv" class="sort active desc"' in header


def test_segment_filter_shows_only_that_segment_and_keeps_it_in_links(client: TestClient, db: Database,
                                                                      scored: scoring.RunResult) -> None:
    scores = stored(db, scored.run_id)
    by_segment: dict[str, int] = {}
    for row in scores.values():
        by_segment[row.segment] = by_segment.get(row.segment, 0) + 1
    segment = max(by_segment, key=lambda s: (by_segment[s], s))
    page = client.get("/customers", params={"segment": segment, "per_page": 100})
    rows = table(page.text, "customers")
    assert len(rows) == by_segment[segment] and {r["Segment"] for r in rows} == {segment}
    assert f"{by_segment[segment]} customers" in page.text or f"{by_segment[segment]} customer" in page.text
    assert f'<option value="{html.escape(segment)}" selected>' in page.text
    assert "segment=" in client.get("/customers", params={"segment": segment, "per_page": 1}).text.split(
        'rel="next"')[1][:200]  # the pager keeps the filter
    searched = client.get("/customers", params={"segment": segment, "q": "Ada"})
    ada_in = scores[next(c for c, n in names(db).items() if n == "Ada Lovelace")].segment == segment
    assert ("Ada Lovelace" in searched.text) == ada_in
    nobody = client.get("/customers", params={"segment": "No Such Segment"})
    assert nobody.status_code == 200 and "Nobody is in “No Such Segment”" in nobody.text
    assert client.get("/customers", params={"segment": "x" * 41}).status_code == 422


def test_profile_value_section_explains_the_scores(client: TestClient, db: Database, shop: Any,
                                                   web_settings: Settings, scored: scoring.RunResult) -> None:
    with db.session() as s:
        value = scoring.customer_value(s, shop.ada, web_settings)
    assert value is not None and value.explanation
    page = client.get(f"/customers/{shop.ada}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    section = text[text.index('id="value"'):text.index('id="preferences"')]
    for sentence in value.explanation:
        assert sentence in section
    assert value.scores["segment"] in section
    assert format_money(value.scores["clv"], "EUR") in section
    assert format_percent(value.scores["p_alive"]) in section
    assert f"{value.scores['expected_purchases']:,.1f}" in section
    assert "in the next 365 days" in section
    assert 'id="value-history"' not in section  # one run: no history to show yet


def test_unscored_customers_get_a_reason(client: TestClient, db: Database, shop: Any,
                                         web_settings: Settings) -> None:
    before = client.get(f"/customers/{shop.ada}").text
    assert "Nobody has been scored yet. Run <code>ravingfans score</code> to see segments and value." in before
    score(db, web_settings, until=date(2023, 12, 1))  # Grace first bought on 24 December 2023
    grace = html.unescape(client.get(f"/customers/{shop.grace}").text)
    assert "their first purchase (2023-12-24) came after the latest scoring run (as of 2023-12-01)" in grace
    linus = html.unescape(client.get(f"/customers/{shop.linus}").text)
    assert "segments and value come from purchases, and this customer has none on record" in linus


def test_profile_history_lists_every_run_newest_last(client: TestClient, db: Database, shop: Any,
                                                     web_settings: Settings) -> None:
    seed_buyers(db, 30)
    first = score(db, web_settings, until=date(2023, 9, 1))
    second = score(db, web_settings)
    rows = table(client.get(f"/customers/{shop.ada}").text, "value-history")
    expected = [(run.run_id, run.observation_end, stored(db, run.run_id)[shop.ada]) for run in (first, second)]
    assert [(r["Run"], r["As of"], r["Segment"], r["Value"]) for r in rows] == [
        (f"#{rid}", end.isoformat(), s.segment, format_money(s.clv, "EUR")) for rid, end, s in expected]


def test_fans_page_ranks_fans_by_value_and_filters_and_sorts(client: TestClient, db: Database,
                                                            scored: scoring.RunResult) -> None:
    home = client.get("/customers").text
    assert '<a href="/fans">Fans</a>' in home
    with db.session() as s:
        best = scoring.fans(s, limit=50)
        by_spend = scoring.fans(s, segments=(), sort="spend", limit=25)
        counts = scoring.segment_counts(s)
    page = client.get("/fans")
    assert page.status_code == 200
    rows = table(page.text, "fans")
    assert [r["Name"] for r in rows] == [f.name for f in best]
    assert {r["Segment"] for r in rows} <= set(FAN_SEGMENTS)
    assert [r["Value"] for r in rows] == [format_money(f.clv, "EUR") for f in best]
    everyone = table(client.get("/fans?segment=all&sort=spend&limit=25").text, "fans")
    assert [r["Name"] for r in everyone] == [f.name for f in by_spend]
    assert len(everyone) == min(25, len(stored(db, scored.run_id)))
    segment = max(counts, key=lambda k: (counts[k][0], k))
    one = table(client.get("/fans", params={"segment": segment, "limit": 500}).text, "fans")
    assert len(one) == counts[segment][0] and {r["Segment"] for r in one} == {segment}
    summary = {r["Segment"]: int(r["Customers"]) for r in table(page.text, "segment-summary")}
    assert summary == {name: n for name, (n, _clv) in counts.items()}
    for bad in ("sort=name", "limit=7", "limit=x"):
        assert client.get(f"/fans?{bad}").status_code == 422


def test_fans_page_before_any_run_says_how_to_score(client: TestClient) -> None:
    page = client.get("/fans")
    assert page.status_code == 200
    assert "Run <code>ravingfans score</code> to see segments and value." in page.text
    assert 'id="fans"' not in page.text


def test_fans_page_escapes_hostile_names(client: TestClient, shop: Any, scored: scoring.RunResult) -> None:
    page = client.get("/fans?segment=all&limit=500").text
    assert "&lt;img src=x onerror=alert(1)&gt; &lt;b&gt;Bold&lt;/b&gt;" in page
    assert "<img src=x" not in page and "<b>Bold" not in page
    assert "<img src=x onerror=alert(1)> <b>Bold</b>" in [r["Name"] for r in table(page, "fans")]


def test_newest_run_is_the_same_run_scoring_calls_latest(db: Database, shop: Any, web_settings: Settings) -> None:
    later_day = score(db, web_settings, until=date(2024, 5, 1))
    score(db, web_settings, until=date(2024, 1, 1))  # made later, as of an earlier day
    with db.session() as s:
        latest = scoring.latest_run(s)
        assert latest is not None and latest.id == later_day.run_id
        assert customer_service.newest_run(s) == (latest.id, latest.observation_end)


def test_fans_page_reads_the_newest_run_once(db: Database, web_settings: Settings, scored: scoring.RunResult) -> None:
    with TestClient(create_app(web_settings, database=db)) as client:
        sign_in_as(client, db, "staff")
        client.get("/fans")  # warm
        with counted(db) as statements:
            page = client.get("/fans")
    assert page.status_code == 200
    runs_read = [s for s in statements if " FROM score_runs" in " ".join(s.split())]
    assert len(runs_read) == 1, runs_read


def test_list_queries_do_not_grow_with_the_rows(db: Database, web_settings: Settings) -> None:
    """10 and then 40 scored customers on one page cost the same number of queries, for each sort and filter."""
    addresses = ["/customers?per_page=100", "/customers?per_page=100&sort=clv&dir=desc",
                 "/customers?per_page=100&sort=total_spend&dir=desc"]
    used: dict[int, list[int]] = {}
    with TestClient(create_app(web_settings, database=db)) as client:
        sign_in_as(client, db, 'owner')
        for size, start in ((10, 0), (30, 10)):
            seed_buyers(db, size, start=start)
            run = score(db, web_settings)
            segment = next(iter(stored(db, run.run_id).values())).segment
            counts = []
            for address in [*addresses, f"/customers?per_page=100&segment={segment}"]:
                client.get(address)  # warm: the first request of an app may load metadata
                with counted(db) as statements:
                    page = client.get(address)
                assert page.status_code == 200
                counts.append(len(statements))
            assert len(table(client.get(addresses[0]).text, "customers")) == start + size
            used[start + size] = counts
    assert all(used[10]) and used[10] == used[40]


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
def test_browser_opens_a_profile_and_sees_its_value(live_server: Any, db: Database, shop: Any,
                                                    web_settings: Settings) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    seed_buyers(db, 60)
    run = score(db, web_settings)
    ada = stored(db, run.run_id)[shop.ada]
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_page(base_url=live_server.url)
            sign_in_page(tab)
            tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            tab.on("pageerror", lambda exc: problems.append(str(exc)))
            tab.goto("/fans?segment=all&limit=500")
            tab.get_by_role("link", name="Ada Lovelace").click()
            expect = sync_api.expect
            expect(tab.locator("#customer-name")).to_have_text("Ada Lovelace")
            section = tab.locator("#value")
            expect(section.get_by_role("heading", name="Value")).to_be_visible()
            expect(tab.locator("#value-segment")).to_have_text(ada.segment)
            expect(tab.locator("#value-clv")).to_have_text(format_money(ada.clv, "EUR"))
            expect(tab.locator("#value-p-alive")).to_have_text(format_percent(ada.p_alive))
            expect(tab.locator("#value-why li").first).to_contain_text(ada.segment)
        finally:
            browser.close()
    assert problems == []


@pytest.mark.parametrize(("share", "shown"), [(0.834, "83%"), (1.0, "100%"), (0.0, "0%"), (None, "—"),
                                              (float("nan"), "—")])
def test_percent_format_for_p_alive(share: float | None, shown: str) -> None:
    assert format_percent(share) == shown


def test_money_format_takes_model_floats() -> None:
    assert format_money(2.675, "EUR") == "€2.68"  # the float as written (2.675), not its binary 2.67499...
    assert format_money(1234.5, "EUR") == "€1,234.50"
    assert format_money(0.1 + 0.2, "USD") == "$0.30"
    assert format_money(float("nan"), "EUR") == format_money(float("inf"), "EUR") == "—"
