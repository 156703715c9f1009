"""The dependencies every route stands on: worker-thread hand-offs kept to the reads, sessions always closed."""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import select

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Employee
from ravingfans.web import create_app
from ravingfans.web.deps import WriteSessionDep

sys.path.insert(0, str(Path(__file__).parent / "api"))
from apihelp import bearer, issue_token  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Each function run in a worker thread, as FastAPI and Starlette hand it over, with the limiter it was given."""
    seen: list[tuple[str, Any]] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        inner = getattr(func, "func", func)  # functools.partial: name what it wraps
        seen.append((getattr(inner, "__qualname__", type(inner).__name__), kwargs.get("limiter")))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return seen


def names(hand_offs: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _limiter in hand_offs]


# A signed-in page: the sign-in check, the handler, the session's commit. Each hand-off costs 60-230 µs of CPU.
PAGE_HAND_OFFS = 3
# An API read: the token check, the handler, FastAPI's check of the response model (it runs a plain ``def``
# route's in a thread), the session's commit.
API_HAND_OFFS = 4


def test_a_page_hands_to_worker_threads_only_what_reads_the_database(
        client_as: Callable[[str], TestClient], shop: Any, hand_offs: list[tuple[str, Any]]) -> None:
    client = client_as("staff")
    client.get(f"/customers/{shop.ada}")  # the session's last-seen time is touched at most once in a while
    hand_offs.clear()
    page = client.get(f"/customers/{shop.ada}")
    assert page.status_code == 200
    assert len(hand_offs) <= PAGE_HAND_OFFS, names(hand_offs)


def test_an_api_read_hands_off_only_the_token_check_the_handler_and_the_commit(
        web_settings: Settings, shop: Any, db: Database, hand_offs: list[tuple[str, Any]]) -> None:
    app = create_app(web_settings)
    try:
        with TestClient(app, headers=bearer(issue_token(db, "staff"))) as client:
            client.get(f"/api/v1/customers/{shop.ada}")
            hand_offs.clear()
            answer = client.get(f"/api/v1/customers/{shop.ada}")
    finally:
        app.state.database.dispose()
    assert answer.status_code == 200
    assert len(hand_offs) <= API_HAND_OFFS, names(hand_offs)


@pytest.fixture
def writer_app(db: Database) -> Iterator[FastAPI]:
    """A bare app with two write routes: one that succeeds and one that fails after it has written."""
    app = FastAPI()
    app.state.database = db

    def add(session: Any, name: str) -> None:
        session.add(Employee(name=name, external_id=name, created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        session.flush()

    @app.post("/fine")
    def fine(session: WriteSessionDep) -> dict[str, str]:
        add(session, "kept")
        return {"ok": "yes"}

    @app.post("/refused")
    def refused(session: WriteSessionDep) -> dict[str, str]:
        add(session, "refused")
        raise HTTPException(status_code=409, detail="answered with an error after writing")

    @app.post("/boom")
    def boom(session: WriteSessionDep) -> dict[str, str]:
        add(session, "lost")
        raise RuntimeError("the handler failed after writing")

    yield app


def test_a_write_session_commits_on_success_rolls_back_on_failure_and_is_closed(writer_app: FastAPI,
                                                                                db: Database) -> None:
    with TestClient(writer_app, raise_server_exceptions=False) as client:
        assert client.post("/fine").status_code == 200
        assert client.post("/refused").status_code == 409
        assert client.post("/boom").status_code == 500
    with db.session() as s:
        written = set(s.scalars(select(Employee.name).where(Employee.name.in_(["kept", "refused", "lost"]))))
    assert written == {"kept"}
    assert db.engine.pool.checkedout() == 0


def test_a_session_is_closed_by_a_thread_of_its_own_not_one_the_handlers_wait_for(
        client_as: Callable[[str], TestClient], shop: Any, hand_offs: list[tuple[str, Any]]) -> None:
    """Queued behind handlers for a shared thread, a commit would hold its connection (and SQLite's write lock)
    while they wait for one: the pool and the lock would stall."""
    client = client_as("staff")
    hand_offs.clear()
    assert client.get(f"/customers/{shop.ada}").status_code == 200
    closes = [limiter for name, limiter in hand_offs if name.endswith("__exit__")]
    assert len(closes) == 1 and closes[0] is not None, hand_offs  # None: the shared threads' limiter


def test_a_signed_out_page_reads_the_business_details_off_the_event_loop(
        anon_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sign-in page needs the settings but has no sign-in check to have read them: a worker thread must."""
    from ravingfans.services import business

    on_loop: list[bool] = []
    real = business.get_business

    def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return real(*args, **kwargs)

    monkeypatch.setattr("ravingfans.web.deps.get_business", watched)
    assert anon_client.get("/login").status_code == 200
    assert on_loop and not any(on_loop), on_loop
