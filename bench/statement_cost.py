"""What one read of a profile-style statement costs in Python: built per call, or built once (issue #4).

Times a customer's newest 100 notes (``select(Note.id, Note.body)`` filtered, ordered and limited, as the
profile's reads are) three ways, in one session on a database built by ``web_build.py``: the statement
built on every call, built once with bound parameters and run through the session, and built once and run
on the session's connection (Core). Process CPU microseconds per call; the customer has no notes, so the
figures are the Python around the database, not the database's work. Then one customer's first load as an
object: ``Session.get`` (which builds its select per call) against a select built once, each in a session that
has not loaded them yet; and ``ravingfans.db.reads.read_rows``, which the pages use for column reads. Last, a bare
statement through SQLAlchemy's ``exec_driver_sql`` against the driver's own connection (how SQLite's ``BEGIN`` is
sent), and what a read session costs by itself (opened, begun, committed, closed), which every page pays twice.

    .venv/bin/python bench/statement_cost.py --backend sqlite --customers 100000 --orders 1000000
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import web_build  # noqa: E402
from sqlalchemy import Integer, bindparam, select  # noqa: E402

from ravingfans.db import open_database  # noqa: E402
from ravingfans.db.models import Customer, Note  # noqa: E402
from ravingfans.db.reads import read_rows  # noqa: E402


def per_call(run: Callable[[], Any], calls: int) -> float:
    """Process CPU microseconds per call, after 200 warm-up calls."""
    for _ in range(200):
        run()
    started = time.process_time()
    for _ in range(calls):
        run()
    return (time.process_time() - started) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    """Print the three costs for one backend."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    web_build.database_arguments(ap)
    ap.add_argument("--calls", type=int, default=5000)
    args = ap.parse_args(argv)
    db = open_database(web_build.db_url(args.backend, args.customers, args.orders))
    customer = -1  # nobody: the database answers at once
    prebuilt = (select(Note.id, Note.body).where(Note.customer_id == bindparam("customer_id"))
                .order_by(Note.created_at.desc(), Note.id.desc()).limit(bindparam("limit", type_=Integer)))
    params = {"customer_id": customer, "limit": 100}
    with db.session() as session:
        fresh = per_call(lambda: session.execute(
            select(Note.id, Note.body).where(Note.customer_id == customer)
            .order_by(Note.created_at.desc(), Note.id.desc()).limit(100)).all(), args.calls)
        once = per_call(lambda: session.execute(prebuilt, params).all(), args.calls)
        connection = session.connection()
        core = per_call(lambda: connection.execute(prebuilt, params).all(), args.calls)
        helper = per_call(lambda: read_rows(session, prebuilt, params).all(), args.calls)
        by_id = select(Customer).where(Customer.id == bindparam("customer_id", type_=Integer))
        ids = iter(range(1, 10**9))

        def first_load(load: Callable[[int], Any]) -> Callable[[], Any]:
            def run() -> Any:
                session.expunge_all()  # as a new request's session: nobody loaded yet
                return load(next(ids) % args.customers + 1)
            return run

        get = per_call(first_load(lambda i: session.get(Customer, i)), args.calls)
        built = per_call(first_load(lambda i: session.scalars(by_id, {"customer_id": i}).one_or_none()), args.calls)
        # A statement with no parameters and no rows (as SQLite's BEGIN, which every transaction sends), two ways.
        layer = per_call(lambda: connection.exec_driver_sql("SELECT 1 WHERE 0"), args.calls)
        driver = connection.connection.driver_connection
        bare = per_call(lambda: driver.execute("SELECT 1 WHERE 0"), args.calls)  # type: ignore[union-attr]

    def lifecycle() -> None:
        with db.session() as session:
            session.connection()

    whole = per_call(lifecycle, args.calls)
    db.dispose()
    print(f"{args.backend}: built per call {fresh:.1f} us, built once (session) {once:.1f} us, "
          f"built once (Core connection) {core:.1f} us, read_rows {helper:.1f} us a call")
    print(f"{args.backend}: a customer's first load: Session.get {get:.1f} us, a select built once {built:.1f} us")
    print(f"{args.backend}: a statement with no parameters: exec_driver_sql {layer:.1f} us, on the driver's "
          f"connection {bare:.1f} us; a read session's own cost (open, begin, commit, close) {whole:.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
