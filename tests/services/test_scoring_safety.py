"""A scoring run killed at any moment leaves either no run or a whole one, never a partial snapshot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from ravingfans.db import Database, open_database
from ravingfans.db.models import CustomerScore, ScoreRun
from ravingfans.demo.generator import generate
from ravingfans.demo.load import load

CLI = [sys.executable, "-c", "from ravingfans.cli import main; main()"]


@pytest.fixture(scope="module")
def business():
    return generate(seed=9, customers=1500, years=2)


def _runs(url: str) -> list[tuple[int, int]]:
    """(customers the run says it scored, rows it stored) for every run."""
    db = open_database(url)
    try:
        with db.session() as s:
            stored = dict(s.execute(select(CustomerScore.run_id, func.count()).group_by(CustomerScore.run_id)).all())
            return [(run.customers, stored.get(run.id, 0)) for run in s.scalars(select(ScoreRun))]
    finally:
        db.dispose()


def _score(url: str, zone: str) -> subprocess.Popen[str]:
    env = dict(os.environ, RAVINGFANS_DATABASE_URL=url, RAVINGFANS_TIME_ZONE=zone)
    return subprocess.Popen([*CLI, "score", "--until", "2026-10-31"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.5, 0.9, 1.2])  # the run takes ~1.4 s here
def test_sigkill_mid_scoring_leaves_no_partial_run(db: Database, database_url: str, business, delay: float) -> None:
    load(business, db.engine)
    proc = _score(database_url, business.time_zone)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    runs = _runs(database_url)
    if proc.returncode == -signal.SIGKILL:
        assert runs == [] or all(n == rows > 0 for n, rows in runs), runs
    else:  # it finished first: then the run is whole
        assert len(runs) == 1 and runs[0][0] == runs[0][1] > 1000
    done = _score(database_url, business.time_zone)
    _out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert all(n == rows > 1000 for n, rows in _runs(database_url))
