"""FastAPI dependencies as Annotated aliases: settings, the database, sessions and templates.

Sessions end (commit or roll back) when the route function returns, before the response is sent,
so a browser that follows a 303 after a POST always sees what the POST wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from ravingfans.config import Settings
from ravingfans.db import Database


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return cast(Settings, request.app.state.settings)


def get_database(request: Request) -> Database:
    """The app's open database."""
    return cast(Database, request.app.state.database)


def get_templates(request: Request) -> Jinja2Templates:
    """The app's page templates."""
    return cast(Jinja2Templates, request.app.state.templates)


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
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
SessionDep = Annotated[Session, Depends(read_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(write_session, scope="function")]
