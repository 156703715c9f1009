"""Two write transactions at once: the first held open while the second starts, to test what races."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ravingfans.db import Database

Work = Callable[[Session], Any]


def overlapping(db: Database, first: Work, second: Work, *, hold: float = 0.5) -> tuple[list[Any], list[Any]]:
    """Run ``first`` in a write transaction held open while ``second`` starts in its own, then commit both.

    Returns (results, errors), each [first's, second's], None where there is none. The second reads
    before the first commits (PostgreSQL; SQLite queues the second writer behind the first), so a
    check-then-write in it races the first's writes.
    """
    done = threading.Event()
    results: list[Any] = [None, None]
    errors: list[Any] = [None, None]

    def run_first() -> None:
        try:
            with db.session(write=True) as s:
                results[0] = first(s)
                done.set()
                time.sleep(hold)  # the second is waiting on this transaction by now
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors[0] = exc
        finally:
            done.set()

    def run_second() -> None:
        done.wait(timeout=10)
        try:
            with db.session(write=True) as s:
                results[1] = second(s)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors[1] = exc

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors
