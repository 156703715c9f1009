"""Where a customer profile page's time goes, in process, on the web benchmark's databases (issue #4).

Serves random profiles through the app (Starlette's test client, signed in as the benchmark's owner) and
prints, per page: wall and CPU milliseconds, the SQL statements and the time inside the database, then the
costliest statements. It complements the Locust runs of ``web_bench.py``: no network and no load
generator, so two commits can be compared on one machine (run each a few times: ±2 ms is noise).

    .venv/bin/python bench/profile_page.py --backend sqlite --pages 400
    (after bench/web_build.py has built the databases)
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import web_build  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import event  # noqa: E402

from ravingfans.config import Settings  # noqa: E402
from ravingfans.web.app import create_app  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Measure ``--pages`` profile pages and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    web_build.database_arguments(ap)
    ap.add_argument("--pages", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--top", type=int, default=10, help="costliest statements to list")
    args = ap.parse_args(argv)
    url = web_build.db_url(args.backend, args.customers, args.orders)
    app = create_app(Settings(database_url=url, _env_file=None, secret_key="bench-" * 8))
    client = TestClient(app, follow_redirects=False)
    client.__enter__()
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    signed = client.post("/login", data={"email": web_build.USER_EMAIL, "password": web_build.USER_PASSWORD,
                                         "csrf_token": token.group(1) if token else "", "next": "/"})
    if signed.status_code != 303:
        print(f"could not sign in as {web_build.USER_EMAIL} ({signed.status_code}): build with bench/web_build.py")
        return 1
    rnd = random.Random(args.seed)
    ids = [rnd.randint(1, args.customers) for _ in range(args.pages)]
    spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    started: dict[int, float] = {}

    def before(conn: Any, *_args: Any) -> None:
        started[id(conn)] = time.perf_counter()

    def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        row = spent[" ".join(statement.split())[:120]]
        row[0] += 1
        row[1] += time.perf_counter() - started.pop(id(conn))

    for customer_id in ids[:20]:  # warm the caches and the compiled-statement cache
        client.get(f"/customers/{customer_id}")
    event.listen(app.state.database.engine, "before_cursor_execute", before)
    event.listen(app.state.database.engine, "after_cursor_execute", after)
    wall, cpu = time.perf_counter(), time.process_time()
    for customer_id in ids:
        page = client.get(f"/customers/{customer_id}")
        if page.status_code != 200:
            print(f"/customers/{customer_id} answered {page.status_code}")
            return 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = len(ids)
    statements = sum(r[0] for r in spent.values()) / n
    in_db = sum(r[1] for r in spent.values()) / n
    print(f"{args.backend}, {n} profiles: wall {wall / n * 1000:.1f} ms, CPU {cpu / n * 1000:.1f} ms a page; "
          f"{statements:.1f} statements, {in_db * 1000:.1f} ms in the driver")
    for text, (count, seconds) in sorted(spent.items(), key=lambda kv: -kv[1][1])[:args.top]:
        print(f"  {seconds / n * 1000:6.2f} ms {count / n:4.1f}x  {text}")
    client.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
