"""Which scoring run is current: one rule for every page and command (light: no analytics imported)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ravingfans.db.models import ScoreRun
from ravingfans.errors import NotFound


_LATEST_RUN = select(ScoreRun).order_by(ScoreRun.observation_end.desc(), ScoreRun.id.desc()).limit(1)  # built once


def latest_run(session: Session) -> ScoreRun | None:
    """The run as of the latest day (the newest such run on a tie), or None before the first."""
    return session.scalar(_LATEST_RUN)


def require_run(session: Session, run_id: int | None = None) -> ScoreRun:
    """The named run (or the current one), refused with the fix when there is none."""
    run = session.get(ScoreRun, run_id) if run_id is not None else latest_run(session)
    if run is None:
        if run_id is not None:
            raise NotFound(f"There is no scoring run #{run_id}.", hint="List them with: ravingfans score --list")
        raise NotFound("Nobody has been scored yet.", hint="Run: ravingfans score")
    return run


def list_runs(session: Session, limit: int = 20) -> list[ScoreRun]:
    """The runs, latest day first."""
    return list(session.scalars(select(ScoreRun).order_by(ScoreRun.observation_end.desc(), ScoreRun.id.desc())
                                .limit(limit)))
