"""Helpers every command uses to get settings and an open database."""

from __future__ import annotations

from ravingfans.config import Settings, get_settings
from ravingfans.db import Database, open_database


def settings() -> Settings:
    """Settings from the environment; a ConfigError becomes a message in cli.main."""
    return get_settings()


def database(*, check_schema: bool = True) -> Database:
    """The configured database, refused unless initialised to this version's schema."""
    return open_database(settings().database_url, check_schema=check_schema)
