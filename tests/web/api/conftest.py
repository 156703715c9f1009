"""API fixtures: the app over the seeded shop, personal access tokens per role, and clients that send them."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.web import create_app
from apihelp import bearer, issue_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def api_app(web_settings: Settings, shop: Any) -> Iterator[FastAPI]:
    """The web app over the seeded shop; its database connections are closed after the test."""
    app = create_app(web_settings)
    yield app
    app.state.database.dispose()


TokenFor = Callable[[str], str]


@pytest.fixture
def token_for(db: Database, shop: Any) -> TokenFor:
    """A factory of tokens: one new user of the given role per call."""
    made: list[str] = []

    def make(role: str) -> str:
        made.append(role)
        return issue_token(db, role, f"api-{role}-{len(made)}@shoe.example")

    return make


ApiAs = Callable[[str], TestClient]


@pytest.fixture
def api_as(api_app: FastAPI, token_for: TokenFor) -> Iterator[ApiAs]:
    """A factory of in-process clients, each sending the token of a new user with the given role."""
    opened: list[TestClient] = []

    def make(role: str) -> TestClient:
        client = TestClient(api_app, headers=bearer(token_for(role)), follow_redirects=False)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


@pytest.fixture
def owner(api_as: ApiAs) -> TestClient:
    """A client with an owner's token (who may do everything)."""
    return api_as("owner")


@pytest.fixture
def anon_api(api_app: FastAPI) -> Iterator[TestClient]:
    """A client with no token at all."""
    with TestClient(api_app, follow_redirects=False) as client:
        yield client
