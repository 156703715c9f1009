"""Helpers every command uses to get settings and an open database."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported inside the functions: `ravingfans --help` and `analyze` start fast
    from ravingfans.config import Settings
    from ravingfans.db import Database


def settings() -> Settings:
    """Settings from the environment; a ConfigError becomes a message in cli.main."""
    from ravingfans.config import get_settings

    return get_settings()


def database(*, check_schema: bool = True) -> Database:
    """The configured database, refused unless initialised to this version's schema."""
    from ravingfans.db import open_database

    return open_database(settings().database_url, check_schema=check_schema)
