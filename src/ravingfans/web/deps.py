"""FastAPI dependencies as Annotated aliases: settings, the business's details, the database, sessions, templates.

Sessions end (commit or roll back) when the route function returns, before the response is sent,
so a browser that follows a 303 after a POST always sees what the POST wrote.

The settings a route gets are the app's, with the business details an owner saved on the settings
page in place of the environment's (name, address, time zone, currency): read once per request and
kept on it, so a change shows on the very next page, in every worker, without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.orm import Session
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


DatabaseDep = Annotated[Database, Depends(get_database)]


def read_session(database: DatabaseDep) -> Iterator[Session]:
    """A session for a page that only reads."""
    with database.session() as session:
        yield session


def write_session(database: DatabaseDep) -> Iterator[Session]:
    """A session for a form that writes (takes SQLite's write lock up front); committed on success."""
    with database.session(write=True) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
BusinessDep = Annotated[Business, Depends(get_business_details)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
VocabularyDep = Annotated[NameVocabulary, Depends(get_vocabulary)]
SessionDep = Annotated[Session, Depends(read_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(write_session, scope="function")]
