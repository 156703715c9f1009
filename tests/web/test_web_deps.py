"""The dependencies every route stands on: worker-thread hand-offs kept to the reads, sessions always closed."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

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
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions run in a worker thread, as FastAPI and Starlette hand them over."""
    seen: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        inner = getattr(func, "func", func)  # functools.partial: name what it wraps
        seen.append(getattr(inner, "__qualname__", type(inner).__name__))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return seen


# A signed-in page: the sign-in check, the handler, the session's commit. Each hand-off costs 60-70 µs of CPU.
PAGE_HAND_OFFS = 3
# An API read: the token check, the handler, FastAPI's check of the response model (it runs a plain ``def``
# route's in a thread), the session's commit.
API_HAND_OFFS = 4


def test_a_page_hands_to_worker_threads_only_what_reads_the_database(client_as: Callable[[str], TestClient],
                                                                     shop: Any, hand_offs: list[str]) -> None:
    client = client_as("staff")
    client.get(f"/customers/{shop.ada}")  # the session's last-seen time is touched at most once in a while
    hand_offs.clear()
    page = client.get(f"/customers/{shop.ada}")
    assert page.status_code == 200
    assert len(hand_offs) <= PAGE_HAND_OFFS, hand_offs


def test_an_api_read_hands_off_only_the_token_check_the_handler_and_the_commit(
        web_settings: Settings, shop: Any, db: Database, hand_offs: list[str]) -> None:
    app = create_app(web_settings)
    try:
        with TestClient(app, headers=bearer(issue_token(db, "staff"))) as client:
            client.get(f"/api/v1/customers/{shop.ada}")
            hand_offs.clear()
            answer = client.get(f"/api/v1/customers/{shop.ada}")
    finally:
        app.state.database.dispose()
    assert answer.status_code == 200
    assert len(hand_offs) <= API_HAND_OFFS, hand_offs


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

    @app.post("/boom")
    def boom(session: WriteSessionDep) -> dict[str, str]:
        add(session, "lost")
        raise RuntimeError("the handler failed after writing")

    yield app


def test_a_write_session_commits_on_success_rolls_back_on_failure_and_is_closed(writer_app: FastAPI,
                                                                                db: Database) -> None:
    with TestClient(writer_app, raise_server_exceptions=False) as client:
        assert client.post("/fine").status_code == 200
        assert client.post("/boom").status_code == 500
    with db.session() as s:
        names = set(s.scalars(select(Employee.name).where(Employee.name.in_(["kept", "lost"]))))
        assert names == {"kept"}
        assert s.scalar(select(func.count()).select_from(Employee).where(Employee.name == "lost")) == 0
    assert db.engine.pool.checkedout() == 0
