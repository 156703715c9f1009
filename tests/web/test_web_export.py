"""The fans list as CSV: the current view, managers and owners only, safe from spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update
from test_web_scores import scored  # noqa: F401 - the fixture: the shop and sixty buyers, scored

from ravingfans.db import Database
from ravingfans.db.models import Customer
from ravingfans.services import scoring

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ClientAs = Callable[[str], TestClient]


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_is_the_view_on_the_page(client: TestClient, db: Database, scored: scoring.RunResult) -> None:
    page = client.get("/fans?segment=all&sort=spend&limit=25").text
    assert 'href="/fans.csv?segment=all&amp;sort=spend&amp;limit=25"' in page
    answer = client.get("/fans.csv?segment=all&sort=spend&limit=25")
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].startswith('attachment; filename="fans-all-by-spend-')
    assert answer.headers["cache-control"] == "no-store"
    got = read_csv(answer.text)
    with db.session() as s:
        shown = scoring.fans(s, segments=(), sort="spend", limit=25)
    assert [int(r["customer_id"]) for r in got] == [row.customer_id for row in shown]
    assert [r["rank"] for r in got] == [str(i) for i in range(1, 26)]
    assert float(got[0]["total_spend"]) == pytest.approx(shown[0].total_spend, abs=0.01)
    fans = read_csv(client.get("/fans.csv").text)
    assert fans and {r["segment"] for r in fans} <= {"Champions", "Loyal"}


def test_cells_a_spreadsheet_would_run_are_neutralised(client: TestClient, db: Database, shop: Any,
                                                       scored: scoring.RunResult) -> None:
    with db.session(write=True) as s:
        s.execute(update(Customer).where(Customer.id == shop.hostile)
                  .values(first_name="=HYPERLINK(\"http://evil.example\")", last_name="x", email="@sum(1+1)@x.example"))
    rows = read_csv(client.get("/fans.csv?segment=all&limit=500").text)
    evil = next(r for r in rows if int(r["customer_id"]) == shop.hostile)
    assert evil["name"] == "'=HYPERLINK(\"http://evil.example\") x"
    assert evil["email"] == "'@sum(1+1)@x.example"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())


def test_only_managers_and_owners_export_and_see_the_button(client_as: ClientAs, scored: scoring.RunResult) -> None:
    staff, manager = client_as("staff"), client_as("manager")
    assert 'id="export-csv"' not in staff.get("/fans").text
    assert staff.get("/fans.csv").status_code == 403
    assert 'id="export-csv"' in manager.get("/fans").text
    assert manager.get("/fans.csv").status_code == 200


def test_before_any_run_the_file_has_only_its_header(client: TestClient, shop: Any) -> None:
    answer = client.get("/fans.csv")
    assert answer.status_code == 200 and answer.text.startswith("rank,customer_id,name,") and answer.text.count("\n") == 1
    assert client.get("/fans.csv?sort=evil").status_code == 422
    assert client.get("/fans.csv?limit=7").status_code == 422


@pytest.mark.parametrize("path", ["/fans", "/fans.csv"])
@pytest.mark.parametrize("segment", ["\x00", "Champions\x07", "x" * 81])
def test_a_segment_with_control_characters_or_too_long_is_a_422(client: Any, path: str, segment: str) -> None:
    answer = client.get(path, params={"segment": segment})
    assert answer.status_code == 422 and "Segment" in answer.text
