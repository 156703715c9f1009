"""ravingfans: turn customers into raving fans.

The public library API is fixed by ``__all__``; the CLI and the web app are thin adapters over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ravingfans.errors import (
    ConfigError,
    Conflict,
    DatabaseError,
    ImportFailed,
    NotFound,
    NotSignedIn,
    PermissionDenied,
    RavingFansError,
    SchemaOutOfDate,
    TooManyAttempts,
    ValidationFailed,
)

if TYPE_CHECKING:
    from ravingfans.config import Settings, get_settings

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Conflict",
    "DatabaseError",
    "ImportFailed",
    "NotFound",
    "NotSignedIn",
    "PermissionDenied",
    "RavingFansError",
    "SchemaOutOfDate",
    "Settings",
    "TooManyAttempts",
    "ValidationFailed",
    "__version__",
    "get_settings",
]


def __getattr__(name: str) -> Any:
    """Load the settings module (pydantic) on first use, so commands that never read settings start fast."""
    if name in ("Settings", "get_settings"):
        from ravingfans import config

        return getattr(config, name)
    raise AttributeError(f"module 'ravingfans' has no attribute {name!r}")
