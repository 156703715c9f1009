"""FastAPI dependencies as Annotated aliases: settings, the business's details, the database, sessions, templates.

Sessions end (commit or roll back) when the route function returns, before the response is sent,
so a browser that follows a 303 after a POST always sees what the POST wrote.

The settings a route gets are the app's, with the business details an owner saved on the settings
page in place of the environment's (name, address, time zone, currency): read once per request and
kept on it, so a change shows on the very next page, in every worker, without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Annotated, cast

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.templating import Jinja2Templates

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.services.business import Business, effective_settings, get_business
from ravingfans.services.search import NameVocabulary

_STATE_LOCK = threading.Lock()


def app_settings(request: Request) -> Settings:
    """The settings the app was created with (the environment's)."""
    return cast(Settings, request.app.state.settings)


def get_database(request: Request) -> Database:
    """The app's open database."""
    return cast(Database, request.app.state.database)


def get_business_details(request: Request) -> Business:
    """The business's details in force for this request (one query, then kept on the request)."""
    cached = getattr(request.state, "business", None)
    if cached is not None:
        return cast(Business, cached)
    with get_database(request).session() as session:
        return read_business_details(request, session)


def read_business_details(request: Request, session: Session) -> Business:
    """Read the business's details in ``session`` and keep them on the request for the rest of it.

    The sign-in check calls this in its own session, so a signed-in page reads who is asking and the
    business it is drawn for over one connection (on PostgreSQL one pool check-out and ping, not two).
    """
    business = get_business(session, app_settings(request))
    request.state.business = business
    return business


def get_settings(request: Request) -> Settings:
    """The app's settings with the business details saved on the settings page in force."""
    cached = getattr(request.state, "effective_settings", None)
    if cached is not None:
        return cast(Settings, cached)
    settings = effective_settings(app_settings(request), get_business_details(request))
    request.state.effective_settings = settings
    return settings


def get_templates(request: Request) -> Jinja2Templates:
    """The app's page templates."""
    return cast(Jinja2Templates, request.app.state.templates)


def get_vocabulary(request: Request) -> NameVocabulary:
    """The app's vocabulary of customer names for typo-tolerant search, made on first use."""
    state = request.app.state
    vocabulary = getattr(state, "name_vocabulary", None)
    if vocabulary is None:
        with _STATE_LOCK:
            vocabulary = getattr(state, "name_vocabulary", None)
            if vocabulary is None:
                vocabulary = state.name_vocabulary = NameVocabulary()
    return cast(NameVocabulary, vocabulary)


# FastAPI runs a plain ``def`` dependency in a worker thread: a hand-off there and back costs 60-230 µs of CPU
# (bench/RESULTS.md), more than these lookups themselves. The aliases below wrap them in ``async def`` so that a
# page pays for the thread only where the database is read: its own handler, the sign-in check, and the session's
# commit at the end. Code that is not a dependency calls the plain functions above.


async def _database(request: Request) -> Database:
    return get_database(request)


async def _settings(request: Request) -> Settings:
    if getattr(request.state, "business", None) is not None:  # a signed-in page: the sign-in check read them
        return get_settings(request)
    return await run_in_threadpool(get_settings, request)  # reads the database: never on the event loop


async def _business(request: Request) -> Business:
    cached = getattr(request.state, "business", None)
    if cached is not None:
        return cast(Business, cached)
    return await run_in_threadpool(get_business_details, request)


async def _templates(request: Request) -> Jinja2Templates:
    return get_templates(request)


async def _vocabulary(request: Request) -> NameVocabulary:
    return get_vocabulary(request)


DatabaseDep = Annotated[Database, Depends(_database)]


@asynccontextmanager
async def _opened(context: AbstractContextManager[Session]) -> AsyncIterator[Session]:
    """A session opened on the event loop and closed in a worker thread, even when the request is cancelled.

    Opening one does no I/O (the connection is taken by its first statement, in the handler's thread); closing
    commits or rolls back and returns the connection, which is I/O, so that part runs in a thread. The close
    has a thread limit of its own, as FastAPI gives its own ``def`` dependencies: waiting behind handlers for
    one of the shared threads, it would hold its connection (and SQLite's write lock) while they wait for one.
    """
    own = anyio.CapacityLimiter(1)
    session = context.__enter__()
    try:
        yield session
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(context.__exit__, type(exc), exc, exc.__traceback__, limiter=own)
        raise
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(context.__exit__, None, None, None, limiter=own)


async def read_session(database: DatabaseDep) -> AsyncIterator[Session]:
    """A session for a page that only reads."""
    async with _opened(database.session()) as session:
        yield session


async def write_session(database: DatabaseDep) -> AsyncIterator[Session]:
    """A session for a form that writes (takes SQLite's write lock up front); committed on success."""
    async with _opened(database.session(write=True)) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(_settings)]
BusinessDep = Annotated[Business, Depends(_business)]
TemplatesDep = Annotated[Jinja2Templates, Depends(_templates)]
VocabularyDep = Annotated[NameVocabulary, Depends(_vocabulary)]
SessionDep = Annotated[Session, Depends(read_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(write_session, scope="function")]
