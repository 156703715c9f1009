"""ravingfans: turn customers into raving fans.

The public library API is fixed by ``__all__``; the CLI and the web app are thin adapters over it.
"""

from ravingfans.config import Settings, get_settings
from ravingfans.errors import (
    ConfigError,
    DatabaseError,
    ImportFailed,
    NotFound,
    RavingFansError,
    SchemaOutOfDate,
    ValidationFailed,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DatabaseError",
    "ImportFailed",
    "NotFound",
    "RavingFansError",
    "SchemaOutOfDate",
    "Settings",
    "ValidationFailed",
    "__version__",
    "get_settings",
]
