"""A killed import leaves the database exactly as before; two imports at once create no duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from ravingfans.db import open_database
from ravingfans.db.models import Customer, Order, OrderLine

CLI = [sys.executable, "-c", "from ravingfans.cli import main; main()"]


def big_orders(path: Path, orders: int) -> Path:
    """A generic orders file: `orders` orders of 2 lines each, 500 customers."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("order_id,ordered_at,customer_id,email,employee,sku,quantity,unit_price\n")
        for i in range(orders):
            c = i % 500
            day = 1 + i % 28
            for sku in ("A", "B"):
                fh.write(f"O{i},2025-02-{day:02d} 10:00,C{c},c{c}@example.com,E{i % 5},{sku}{i % 40},1,9.99\n")
    return path


def counts(url: str) -> tuple[int, int, int]:
    db = open_database(url)
    try:
        with db.session() as s:
            return tuple(int(s.scalar(select(func.count()).select_from(m)) or 0)  # type: ignore[return-value]
                         for m in (Order, OrderLine, Customer))
    finally:
        db.dispose()


def start(url: str, path: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, RAVINGFANS_DATABASE_URL=url)
    return subprocess.Popen([*CLI, "import", "orders", str(path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.5, 1.5, 3.0])
def test_sigkill_mid_import_leaves_database_as_before(database_url: str, tmp_path: Path, delay: float) -> None:
    path = big_orders(tmp_path / "orders.csv", 40_000)
    proc = start(database_url, path)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    after = counts(database_url)
    # All or nothing: a kill before the commit leaves nothing; one after it (the process may still be
    # closing down when the signal lands, so the exit code alone does not tell) leaves the whole file.
    assert after in ((0, 0, 0), (40_000, 80_000, 500)), f"killed after {delay}s, half an import left: {after}"
    if proc.returncode != -signal.SIGKILL:  # it finished before the kill: then it must be whole
        assert after == (40_000, 80_000, 500)
    # The database is usable and consistent afterwards: a full import succeeds exactly once.
    done = start(database_url, path)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert counts(database_url) == (40_000, 80_000, 500)
    if database_url.startswith("sqlite"):
        db = open_database(database_url)
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        db.dispose()


@pytest.mark.slow
def test_two_imports_of_one_file_at_once(database_url: str, tmp_path: Path) -> None:
    path = big_orders(tmp_path / "orders.csv", 20_000)
    procs = [start(database_url, path) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outputs]
    assert counts(database_url) == (20_000, 40_000, 500)
    summaries = sorted(out for out, _ in outputs)
    assert "20000 created" in summaries[0] or "20000 created" in summaries[1]
    assert any("20000 unchanged" in s for s in summaries)


@pytest.mark.parametrize("pooling", ["default", "static"])
def test_an_in_memory_sqlite_database_keeps_what_was_imported(settings, tmp_path: Path, pooling: str) -> None:
    """The library on `sqlite://`: staged from the calling thread where the pool binds connections to threads,
    and the connection (which is the whole database) is kept, not closed, when the staging goes."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from ravingfans.db.migrate import upgrade
    from ravingfans.ingest.importer import ImportOptions, import_file

    extra = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}} if pooling == "static" else {}
    engine = create_engine("sqlite://", **extra)
    upgrade(engine)
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,email,ordered_at,sku,quantity,unit_price\n"
                    "A1,C1,a@example.com,2024-01-05,S1,1,20\nA1,C1,a@example.com,2024-01-05,S2,2,5\n"
                    "A2,C2,b@example.com,2024-02-05,S1,2,20\n", encoding="utf-8")
    first = import_file(engine, settings, path, ImportOptions(kind="orders"))
    again = import_file(engine, settings, path, ImportOptions(kind="orders"))
    assert (first.created, again.unchanged) == (2, 2)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM order_lines")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM sqlite_temp_master WHERE name LIKE 'stg_%'")).scalar() == 0
    engine.dispose()


def test_after_the_merge_commits_the_import_opens_no_transaction(settings, tmp_path: Path) -> None:
    """Closing up must not take SQLite's write lock again: it would wait out another writer's busy timeout."""
    from sqlalchemy import event

    from ravingfans.db.migrate import upgrade
    from ravingfans.ingest.importer import ImportOptions, import_file

    db = open_database(f"sqlite:///{tmp_path / 'shop.db'}", check_schema=False)
    upgrade(db.engine)
    log: list[str] = []
    event.listen(db.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: log.append(statement.strip().split()[0].upper()))
    event.listen(db.engine, "begin", lambda conn: log.append("BEGIN"))  # sent on the driver's connection
    event.listen(db.engine, "commit", lambda conn: log.append("COMMIT"))
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,email,ordered_at,sku,quantity,unit_price\n"
                    "A1,C1,a@example.com,2024-01-05,S1,1,20\n", encoding="utf-8")
    try:
        report = import_file(db.engine, settings, path, ImportOptions(kind="orders"))
    finally:
        db.dispose()
    assert report.created == 1
    last_commit = len(log) - 1 - log[::-1].index("COMMIT")
    assert log.count("COMMIT") >= 2  # the staging and the merge each committed
    assert "BEGIN" not in log[last_commit:], log[last_commit:]
