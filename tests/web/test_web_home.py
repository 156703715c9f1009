"""The Home page: counts, today's work and server-side SVG charts with their tables (SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import re
import shutil
import warnings
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from signin import sign_in_as, sign_in_page
from test_web_scores import NOW, counted, score, seed_buyers, table

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Interaction, Order, OrderLine
from ravingfans.services import dashboard
from ravingfans.web import charts, create_app
from ravingfans.web.formatting import format_money
from ravingfans.web.pages.home import month_label

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nags about httpx vs httpx2 at import
    from fastapi.testclient import TestClient

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \"quotes\" ]]>"


@pytest.fixture
def home_client(client: TestClient) -> TestClient:
    """The seeded shop's client with the app's clock fixed on the day the seeded scoring tests use."""
    client.app.state.clock = NOW  # type: ignore[attr-defined]
    return client


def summary(db: Database, settings: Settings) -> dashboard.HomeSummary:
    """What the service says the page should show."""
    with db.session() as s:
        return dashboard.home_summary(s, settings, clock=NOW)


def svgs(page: str) -> dict[str, ET.Element]:
    """Every inline SVG of a page, parsed as XML (fails on malformed markup), by id."""
    found = [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", page, flags=re.S)]
    return {str(svg.get("id")): svg for svg in found}


def recent_orders(db: Database, customer_ids: list[int]) -> None:
    """One order for each customer in the last weeks of the real clock."""
    now = datetime.now(UTC)
    with db.session(write=True) as s:
        for n, customer_id in enumerate(customer_ids):
            order = Order(source="test", external_id=f"R-{customer_id}", customer_id=customer_id, channel="web",
                          placed_at=now - timedelta(days=3 * n + 1), total=Decimal("25.00"))
            order.lines.append(OrderLine(line_no=1, kind="sale", product_name="Socks", sku="SKU-SOC", quantity=1,
                                         unit_price=Decimal("25.00"), amount=Decimal("25.00")))
            s.add(order)


def misery(db: Database, customer_id: int, employee_id: int | None, note: str, ago: timedelta) -> None:
    """A misery moment ``ago`` before the fixed now."""
    at = NOW() - ago
    with db.session(write=True) as s:
        s.add(Interaction(customer_id=customer_id, employee_id=employee_id, occurred_at=at, channel="store",
                          kind="complaint", rating=-1, note=note, created_at=at))


def test_before_any_run_counts_show_with_the_hint_to_score(home_client: TestClient, db: Database,
                                                           web_settings: Settings) -> None:
    page = home_client.get("/")
    assert page.status_code == 200
    expected = summary(db, web_settings)
    assert f'id="count-customers">{expected.customers}<' in page.text and expected.customers == 5
    assert "Run <code>ravingfans score</code> to see fans, slipping fans and value." in page.text
    assert 'id="count-fans"' not in page.text and 'id="slipping"' not in page.text
    segments = table(page.text, "segment-revenue-table")
    assert [(r["Segment"], r["Revenue"]) for r in segments] == [
        (r.segment, format_money(r.revenue, "EUR")) for r in expected.revenue_by_segment]
    assert {r["Segment"] for r in segments} == {dashboard.NOT_SCORED}
    assert set(svgs(page.text)) == {"segment-revenue-chart", "monthly-revenue-chart", "monthly-active-chart"}
    assert '<a href="/">Home</a>' in page.text


def test_after_a_run_the_page_shows_the_services_numbers_and_links(home_client: TestClient, db: Database,
                                                                   shop: Any, web_settings: Settings) -> None:
    seed_buyers(db, 60)
    score(db, web_settings)
    misery(db, shop.hostile, shop.employee, "Waited <b>40 minutes</b>", timedelta(days=2))
    misery(db, shop.ada, None, "too long ago", timedelta(days=dashboard.MISERY_DAYS + 1))
    expected = summary(db, web_settings)
    page = home_client.get("/")
    assert page.status_code == 200
    text = page.text
    assert expected.fans and expected.slipping and expected.slipping_top
    assert f'id="count-fans" href="/fans">{expected.fans:,}<' in text
    assert f'id="count-slipping" href="/slipping">{expected.slipping:,}<' in text
    assert f'id="value-at-risk">{format_money(expected.value_at_risk, "EUR")}<' in text
    assert "Run <code>ravingfans score</code>" not in text
    for row in expected.slipping_top:
        assert f'<a href="/customers/{row.customer_id}">{html.escape(row.name)}</a>' in text
    section = text[text.index('id="misery"'):text.index('id="misery"') + 2000]
    assert f'<a href="/customers/{shop.hostile}">&lt;img src=x onerror=alert(1)&gt; &lt;b&gt;Bold&lt;/b&gt;</a>' in section
    assert "Waited &lt;b&gt;40 minutes&lt;/b&gt;" in section and "served by Sam Seller" in section
    assert "too long ago" not in text and "<b>40" not in text
    months = table(text, "monthly-revenue-table")
    assert [(r["Month"], r["Revenue"]) for r in months] == [
        (month_label(p.month), format_money(p.revenue, "EUR")) for p in expected.months]
    active = table(text, "monthly-active-table")
    assert [int(r["Customers who bought"].replace(",", "")) for r in active] == [
        p.active_customers for p in expected.months]
    segments = table(text, "segment-revenue-table")
    assert [(r["Segment"], r["Revenue"], r["Customers who bought"]) for r in segments] == [
        (r.segment, format_money(r.revenue, "EUR"), f"{r.buyers:,}") for r in expected.revenue_by_segment]
    assert "Champions" in {r["Segment"] for r in segments}


def test_every_chart_is_accessible_wellformed_svg_followed_by_its_table(home_client: TestClient, db: Database,
                                                                        web_settings: Settings) -> None:
    seed_buyers(db, 30)
    score(db, web_settings)
    text = home_client.get("/").text
    expected = summary(db, web_settings)
    drawn = svgs(text)
    assert set(drawn) == {"segment-revenue-chart", "monthly-revenue-chart", "monthly-active-chart"}
    for chart_id, svg in drawn.items():
        assert svg.get("role") == "img" and svg.get("aria-label")
        assert svg.find(f"{SVG}title") is not None and svg.find(f"{SVG}desc") is not None
        after = text[text.index(f'id="{chart_id}"'):]
        assert after.index("<table") < after.index("</figure>")  # the data table follows inside the same figure
    bars = drawn["segment-revenue-chart"].findall(f".//{SVG}rect")
    assert len(bars) == len(expected.revenue_by_segment)
    labels = [t.text for t in drawn["segment-revenue-chart"].iter(f"{SVG}text") if t.get("class") == "label"]
    assert labels == [r.segment for r in expected.revenue_by_segment]
    assert len(drawn["monthly-revenue-chart"].findall(f".//{SVG}rect")) == dashboard.MONTHS


def test_queries_do_not_grow_with_the_data(db: Database, shop: Any, web_settings: Settings) -> None:
    """10 and then 40 more scored buyers, and more misery moments: the page costs the same number of queries."""
    used = []
    app = create_app(web_settings, database=db)
    app.state.clock = NOW
    with TestClient(app) as client:
        sign_in_as(client, db, "owner")
        for size, start in ((10, 0), (30, 10)):
            seed_buyers(db, size, start=start)
            for n in range(size // 5):
                misery(db, shop.ada, shop.employee, f"slow {start + n}", timedelta(hours=n + 1))
            score(db, web_settings)
            client.get("/")  # warm: the first request of an app may load metadata
            with counted(db) as statements:
                page = client.get("/")
            assert page.status_code == 200 and 'id="count-fans"' in page.text
            used.append(len(statements))
    assert used[0] == used[1] > 0


@pytest.mark.parametrize("values", [[("A", 10.0), ("B", 0.0)], [("Only", -5.0)], [], [("x", 1e9), ("y", -3.0)]])
def test_charts_are_wellformed_svg_for_any_numbers(values: list[tuple[str, float]]) -> None:
    for draw in (charts.bar_chart, charts.column_chart):
        svg = ET.fromstring(str(draw(values, chart_id="c", title="T", describe="D")))
        assert svg.get("role") == "img" and svg.get("aria-label") == "T"
        rects = svg.findall(f".//{SVG}rect")
        assert len(rects) == len(values)
        assert all(float(r.get("width", "0")) > 0 and float(r.get("height", "0")) > 0 for r in rects)


def test_charts_escape_hostile_labels_and_titles() -> None:
    for draw in (charts.bar_chart, charts.column_chart):
        markup = str(draw([(HOSTILE, 3.0)], chart_id='c"x', title=HOSTILE, describe=HOSTILE,
                          fmt=lambda v: f"<{v}>"))
        assert "<script>" not in markup and "&lt;script&gt;" in markup
        svg = ET.fromstring(markup)  # parses: nothing the label held broke out of its element or attribute
        assert svg.get("id") == 'c"x' and svg.get("aria-label") == HOSTILE
        assert svg.findtext(f"{SVG}title") == HOSTILE
        assert HOSTILE in [t.text for t in svg.iter(f"{SVG}text")]
        assert "<3.0>" in "".join(t.text or "" for t in svg.iter(f"{SVG}text")) + "".join(
            t.text or "" for t in svg.iter(f"{SVG}title"))


def test_bar_lengths_follow_the_values() -> None:
    svg = ET.fromstring(str(charts.bar_chart([("a", 10.0), ("b", 5.0), ("c", 0.0)], chart_id="c", title="T",
                                             describe="D")))
    widths = [float(r.get("width", "0")) for r in svg.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1], rel=0.02) and widths[2] <= 1.0


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
def test_browser_shows_the_charts_and_their_tables(live_server: Any, db: Database, web_settings: Settings) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    buyers = seed_buyers(db, 40)
    score(db, web_settings)
    recent_orders(db, buyers[:10])  # the server runs on the real clock: give it sales in the last months
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_page(base_url=live_server.url)
            sign_in_page(tab)
            tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            tab.on("pageerror", lambda exc: problems.append(str(exc)))
            tab.goto("/")
            expect = sync_api.expect
            expect(tab.get_by_role("heading", name="Home", level=1)).to_be_visible()
            chart = tab.get_by_role("img", name=re.compile("^Revenue by segment"))
            expect(chart).to_be_visible()
            assert chart.bounding_box()["width"] > 200  # type: ignore[index]
            figure = tab.locator("#segment-revenue")
            table_ = figure.locator("#segment-revenue-table")
            expect(table_).to_be_hidden()
            figure.get_by_text("Show as a table").click()
            expect(table_).to_be_visible()
            assert table_.locator("tbody tr").count() >= 1
            expect(tab.get_by_role("img", name=re.compile("^Revenue by month"))).to_be_visible()
            tab.get_by_role("link", name="Customers", exact=True).first.click()
            expect(tab.locator("h1")).to_have_text("Customers")
        finally:
            browser.close()
    assert problems == []


def test_times_and_clock_default_to_now(db: Database, web_settings: Settings, shop: Any) -> None:
    """Without a fixed clock the page uses the real time (the current month is the trend's last)."""
    with TestClient(create_app(web_settings, database=db)) as client:
        sign_in_as(client, db, 'owner')
        page = client.get("/")
    months = table(page.text, "monthly-revenue-table")
    assert months[-1]["Month"] == month_label(datetime.now(UTC).astimezone(web_settings.zone).date())
