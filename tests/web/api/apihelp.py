"""Helpers for the API tests: tokens, the Authorization header, and the problem-details check."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ravingfans.db import Database
from ravingfans.db.models import CustomerScore, ScoreRun
from ravingfans.services.accounts import create_token
from signin import add_account

API = "/api/v1"


def issue_token(db: Database, role: str, email: str | None = None) -> str:
    """A new user with ``role`` and a personal access token for them; the token."""
    address = add_account(db, role, email or f"api-{role}@shoe.example")
    with db.session(write=True) as s:
        return create_token(s, address, "tests").token


def bearer(token: str) -> dict[str, str]:
    """The Authorization header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """The response is problem details with this status (naming ``field`` among its errors); its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:ravingfans:problem:")
    assert body["title"] and body["detail"]
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


def seed_scores(db: Database, customer_ids: list[int], *, day: date = date(2024, 6, 1),
                segments: tuple[str, ...] = ("champions", "loyal", "at_risk")) -> int:
    """A stored scoring run as of ``day`` scoring these customers (segments in turn, the last one slipping); its id."""
    with db.session(write=True) as s:
        run = ScoreRun(created_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC), observation_end=day,
                       customers=len(customer_ids), model="bgnbd", params={"horizon_days": 365.0})
        s.add(run)
        s.flush()
        for number, customer_id in enumerate(customer_ids):
            slipping = number == len(customer_ids) - 1
            s.add(CustomerScore(
                run_id=run.id, customer_id=customer_id, first_purchase=date(2023, 1, 1), last_purchase=date(2024, 3, 1),
                purchases=3 + number, frequency=2 + number, recency=420.0, T=517.0, monetary_value=60.5,
                total_spend=181.5 + number, mean_gap=200.0, gap_std=20.0, days_since_last=92.0, R=3, F=4, M=5, FM=4,
                segment=segments[number % len(segments)], p_alive=0.8 - number / 100, expected_purchases=1.5,
                expected_spend=90.0, clv=250.0 + number, slipping_rank=1 if slipping else None,
                value_at_risk=120.0 if slipping else None, slipping_reason="Usually buys every 60 days; 92 days now"
                if slipping else None))
        return run.id
