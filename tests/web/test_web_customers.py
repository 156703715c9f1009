"""The customer pages over HTTP (in-process): list, search, sort, profile, forms, errors, hostile input."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ravingfans.config import Settings
from ravingfans.db import Database, open_database
from ravingfans.db.models import Interaction, Note
from ravingfans.errors import SchemaOutOfDate
from ravingfans.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nags about httpx vs httpx2 at import
    from fastapi.testclient import TestClient

ROW_NAME = re.compile(r'<td><a href="/customers/(\d+)">(.*?)</a>')


def listed(html: str) -> list[str]:
    """Customer names in the order the list shows them."""
    return [name for _id, name in ROW_NAME.findall(html)]


OUR_SCRIPT = '<script src="/static/vendor/htmx/htmx.min.js'


def foreign_scripts(html: str) -> list[str]:
    """Every <script> tag on a page except the one vendored htmx file every page loads."""
    return [tag for tag in re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE) if not tag.startswith(OUR_SCRIPT)]


def count(db: Database, model: type) -> int:
    """How many rows a table has."""
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_home_is_a_page_that_links_to_the_list(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert '<a href="/customers">Customers</a>' in response.text


def test_list_shows_customers_with_spend_in_currency_and_last_purchase_in_business_zone(client: TestClient) -> None:
    response = client.get("/customers")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "5 customers" in html
    ada = html[html.index(">Ada Lovelace<"):]
    ada = ada[: ada.index("</tr>")]
    assert "€160.50" in ada  # 120 + 2 x 5.25 + 30; the cancelled order of Grace is not anyone's spend
    assert "2024-03-02" in ada  # 23:30 UTC on 1 March is the morning of 2 March in Tokyo
    assert "Shoe &amp; Co" in html
    assert "Times shown in Asia/Tokyo" in html


def test_list_sorts_by_each_column_both_ways(client: TestClient) -> None:
    by_name = listed(client.get("/customers").text)
    assert by_name[1:] == ["Grace Hopper", "Ada Lovelace", "Linus Torvalds", "Anna Zed"]
    assert listed(client.get("/customers?dir=desc").text)[:2] == ["Anna Zed", "Linus Torvalds"]
    spend = listed(client.get("/customers?sort=total_spend&dir=desc").text)
    assert spend[:3] == ["Grace Hopper", "Ada Lovelace", "Anna Zed"]
    assert listed(client.get("/customers?sort=total_spend").text)[-1] == "Grace Hopper"
    recent = listed(client.get("/customers?sort=last_purchase&dir=desc").text)
    assert recent[:3] == ["Ada Lovelace", "Grace Hopper", "Anna Zed"]
    oldest = listed(client.get("/customers?sort=last_purchase&dir=asc").text)
    assert oldest[:3] == ["Anna Zed", "Grace Hopper", "Ada Lovelace"]  # never-bought stay at the end
    assert set(oldest[3:]) == {"Linus Torvalds", "&lt;img src=x onerror=alert(1)&gt; &lt;b&gt;Bold&lt;/b&gt;"}


def test_sort_links_flip_direction_and_keep_the_search(client: TestClient) -> None:
    html = client.get("/customers?q=a&sort=total_spend&dir=desc").text
    assert 'href="/customers?q=a&amp;sort=total_spend"' in html  # clicking the active column flips it
    assert 'href="/customers?q=a&amp;sort=last_purchase&amp;dir=desc"' in html
    assert 'aria-sort="descending"' in html


def test_list_pages(client: TestClient) -> None:
    first = client.get("/customers?per_page=2").text
    assert "Page 1 of 3" in first
    assert len(listed(first)) == 2
    assert 'rel="next" href="/customers?page=2&amp;per_page=2"' in first
    last = client.get("/customers?per_page=2&page=3").text
    assert listed(last) == ["Anna Zed"]
    beyond = client.get("/customers?per_page=2&page=9")
    assert beyond.status_code == 200
    assert "There is no page 9" in beyond.text


@pytest.mark.parametrize(("query", "expected"), [
    ("ada", ["Ada Lovelace"]),
    ("LOVE", ["Ada Lovelace"]),
    ("ada lov", ["Ada Lovelace"]),
    ("GRACE@NAVY", ["Grace Hopper"]),
    ("(415) 555-01", ["Ada Lovelace"]),
    ("+1 202 555", ["Grace Hopper"]),
    ("0044 20 7946", ["Anna Zed"]),
    ("velace", []),
])
def test_search_by_name_email_or_phone_prefix(client: TestClient, query: str, expected: list[str]) -> None:
    response = client.get("/customers", params={"q": query})
    assert response.status_code == 200
    assert listed(response.text) == expected
    if not expected:
        assert "starts with" in response.text


def test_profile_shows_details_preferences_consents_orders_moments_and_notes(client: TestClient, shop: Any) -> None:
    response = client.get(f"/customers/{shop.ada}")
    assert response.status_code == 200
    html = response.text
    for text in ("Ada Lovelace", "ada@example.com", "+14155550123", "green tea", "loud music",
                 "shoe: <strong>38</strong>",
                 "Dog name", "Rex", "vip", "Imported: prefers mornings", "Yes to news", "unsubscribe link",
                 "Boots", "SKU-BOO", "€120.00", "€130.50", "Scarf", "Loves the boots", "Courtesy call",
                 "served by Sam Seller", "Ask about the poetry reading", "€160.50", "€80.25"):
        assert text in html, text
    assert "2024-03-02 08:30 JST" in html  # the order time, shown in the business zone
    assert html.index("unsubscribe link") < html.index("Yes to news")  # newest consent first
    assert html.index("A-1") < html.index("A-2")  # newest order first
    assert "Old Timer" not in html  # inactive staff are not offered in the form


def test_adding_a_note_redirects_and_shows_it(client: TestClient, shop: Any, db: Database) -> None:
    response = client.post(f"/customers/{shop.grace}/notes", data={"body": "  Wants the navy coat in blue  ",
                                                                    "author": "Kim"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/customers/{shop.grace}?saved=note#notes"
    page = client.get(response.headers["location"]).text
    assert "Note added." in page
    assert "Wants the navy coat in blue" in page
    assert "· Kim" in page
    with db.session() as s:
        bodies = s.scalars(select(Note.body).where(Note.customer_id == shop.grace)).all()
    assert bodies == ["Wants the navy coat in blue"]


def test_logging_a_moment_redirects_and_shows_it_in_the_business_zone(client: TestClient, shop: Any,
                                                                      db: Database) -> None:
    response = client.post(f"/customers/{shop.grace}/interactions", data={
        "channel": "store", "kind": "complaint", "rating": "misery", "note": "Coat button fell off",
        "employee_id": str(shop.employee), "occurred_at": "2024-05-03T14:05"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/customers/{shop.grace}?saved=moment#moments"
    page = client.get(response.headers["location"]).text
    assert "Moment of truth logged." in page
    assert "Coat button fell off" in page
    assert "2024-05-03 14:05 JST" in page
    assert 'class="badge misery"' in page
    with db.session() as s:
        moment = s.scalars(select(Interaction).where(Interaction.customer_id == shop.grace)).one()
        assert (moment.rating, moment.kind, moment.employee_id) == (-1, "complaint", shop.employee)
        assert moment.occurred_at.isoformat() == "2024-05-03T05:05:00+00:00"  # stored in UTC


def test_hostile_text_is_shown_escaped_everywhere(client: TestClient, shop: Any) -> None:
    payload = "<script>alert('x')</script><img src=x onerror=alert(2)>"
    client.post(f"/customers/{shop.hostile}/notes", data={"body": payload})
    client.post(f"/customers/{shop.hostile}/interactions",
                data={"channel": "web", "kind": "other", "rating": "mediocre", "note": payload})
    page = client.get(f"/customers/{shop.hostile}")
    html = page.text
    assert foreign_scripts(html) == []
    assert "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") == 3  # the note, its edit box, the moment
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html
    assert "&lt;script&gt;alert(&#39;like&#39;)&lt;/script&gt;" in html
    listing = client.get("/customers").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in listing
    assert foreign_scripts(listing) == []
    search = client.get("/customers", params={"q": "<script>"}).text
    assert "&lt;script&gt;" in search and foreign_scripts(search) == []


def test_pages_carry_a_strict_content_security_policy(client: TestClient, shop: Any) -> None:
    for path in ("/customers", f"/customers/{shop.ada}", "/customers/999999"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"


def test_static_assets_are_served_from_the_package(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "--magic" in css.text
    assert client.get("/static/favicon.svg").status_code == 200
    assert "no-store" not in css.headers.get("cache-control", "")


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"body": "   "}, "body", "Note:"),
    ({"body": "x" * 5001}, "body", "at most 5000"),
    ({"body": "nul \x00 byte"}, "body", "control characters"),
    ({"body": "ok", "author": "a" * 121}, "author", "Author:"),
])
def test_bad_notes_get_an_error_page_and_write_nothing(client: TestClient, shop: Any, db: Database,
                                                       data: dict[str, str], field: str, message: str) -> None:
    before = count(db, Note)
    response = client.post(f"/customers/{shop.ada}/notes", data=data)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text
    assert f'data-field="{field}"' in response.text
    assert f'href="/customers/{shop.ada}"' in response.text  # "go back" leads to the profile
    assert count(db, Note) == before


@pytest.mark.parametrize(("change", "field"), [
    ({"channel": "pigeon"}, "channel"),
    ({"kind": "<b>"}, "kind"),
    ({"rating": "awesome"}, "rating"),
    ({"employee_id": "abc"}, "employee_id"),
    ({"employee_id": "99999"}, "employee_id"),
    ({"employee_id": "99999999999999999999"}, "employee_id"),
    ({"occurred_at": "2999-01-01T10:00"}, "occurred_at"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
])
def test_bad_moments_get_an_error_page_and_write_nothing(client: TestClient, shop: Any, db: Database,
                                                         change: dict[str, str], field: str) -> None:
    data = {"channel": "store", "kind": "question", "rating": "magic", "note": "fine"} | change
    response = client.post(f"/customers/{shop.ada}/interactions", data=data)
    assert response.status_code == 422
    assert f'data-field="{field}"' in response.text
    assert count(db, Interaction) == 1  # only the seeded one


def test_unknown_customers_are_404_pages(client: TestClient, db: Database) -> None:
    for path in ("/customers/999999", "/customers/9223372036854775808", "/customers/abc", "/customers/-1", "/nowhere"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "Not found" in response.text
        assert 'href="/customers">Customer list</a>' in response.text
    posted = client.post("/customers/999999/notes", data={"body": "hello"})
    assert posted.status_code == 404
    assert "no customer number 999999" in posted.text
    assert count(db, Note) == 1


@pytest.mark.parametrize("query", ["sort=evil", "dir=sideways", "page=0", "page=abc", "per_page=1000",
                                   "q=" + "a" * 101, "q=%00"])
def test_bad_list_parameters_get_a_422_page(client: TestClient, query: str) -> None:
    response = client.get("/customers?" + query)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Please check what you entered" in response.text


def test_forms_only_accept_posts_and_gets_change_nothing(client: TestClient, shop: Any, db: Database) -> None:
    response = client.get(f"/customers/{shop.ada}/notes", params={"body": "sneaky"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    for path in ("/customers", f"/customers/{shop.ada}?saved=note", "/customers?q=ada"):
        client.get(path)
    assert (count(db, Note), count(db, Interaction)) == (1, 1)


def test_cross_site_and_oversized_posts_are_refused(client: TestClient, shop: Any, db: Database) -> None:
    url = f"/customers/{shop.ada}/notes"
    assert client.post(url, data={"body": "csrf"}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post(url, data={"body": "csrf"}, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post(url, data={"body": "x" * 200_000}).status_code == 413
    same = client.post(url, data={"body": "same origin"}, headers={"Origin": "http://testserver",
                                                                    "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 303
    assert count(db, Note) == 2


def test_health_check_answers(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok")


def test_the_app_refuses_an_uninitialised_database(empty_database_url: str) -> None:
    with pytest.raises(SchemaOutOfDate):
        create_app(Settings(database_url=empty_database_url, _env_file=None))


def test_a_vanished_database_gives_a_503_page_not_a_traceback(tmp_path: Path) -> None:
    gone = open_database(f"sqlite:///{tmp_path}/no/such/dir/x.db", check_schema=False)
    with TestClient(create_app(Settings(_env_file=None), database=gone)) as broken:
        broken.cookies.set("rf_session", "x" * 43)  # looking the session up is the first query to fail
        page = broken.get("/customers")
        assert page.status_code == 503
        assert "cannot be reached right now" in page.text
        assert "sqlite" not in page.text.lower()
        assert broken.post("/customers/1/notes", data={"body": "x"}).status_code == 503
        assert broken.get("/healthz").status_code == 503
    gone.dispose()


def test_the_api_docs_load_only_same_origin_assets(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert all(client.get(s).status_code == 200 for s in sources)
    assert "<script>" not in page.text  # every script is a file: the policy allows no inline script
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/openapi.json").status_code == 200
