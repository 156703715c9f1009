"""An injectable "now": services take a Clock so tests and the demo can fix time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def fixed(at: datetime) -> Clock:
    """A clock that always answers ``at`` (made UTC-aware if naive)."""
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    return lambda: moment
