"""Where a page's time goes: SQL statements (count, time, plan) versus the rest, in-process, for the web benchmark.

Builds the app as ``ravingfans serve`` does, signs in through /login with Starlette's TestClient, and
requests the benchmark's pages (profile, search, fans) a number of times, timing every SQL statement
with SQLAlchemy's cursor events. Prints, per page: requests, median wall time, SQL statements per
request, median SQL time, and the slowest statements with their query plan (EXPLAIN QUERY PLAN on
SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL).

    .venv/bin/python bench/web_explain.py --backend sqlite --n 30
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import web_build as wb  # noqa: E402


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    wb.database_arguments(ap)
    ap.add_argument("--n", type=int, default=30, help="requests per page")
    ap.add_argument("--search-path", default="auto")
    ap.add_argument("--pages", default="profile,search,fans")
    ap.add_argument("--plans", type=int, default=3, help="slowest distinct statements to explain per page")
    ap.add_argument("--cprofile", action="store_true",
                    help="also profile the Python side of each page (cProfile): where the CPU goes besides SQL")
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from ravingfans.config import get_settings
    from ravingfans.db import open_database
    from ravingfans.web import create_app

    url = wb.db_url(args.backend, args.customers, args.orders)
    env = wb.app_env(url)
    settings = get_settings(database_url=url, time_zone=env["RAVINGFANS_TIME_ZONE"],
                            business_name=env["RAVINGFANS_BUSINESS_NAME"])
    database = open_database(url)
    engine = database.engine
    log: list[tuple[str, float, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info.setdefault("t0", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        log.append((statement, time.perf_counter() - conn.info["t0"].pop(), parameters))

    app = create_app(settings, database=database)
    terms = [t for t in (wb.DATA / "search-terms.txt").read_text().splitlines() if t] \
        if (wb.DATA / "search-terms.txt").exists() else ["sm", "emma", "garc"]
    rng = random.Random(5)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token"\s+value="([^"]+)"', form.text).group(1)
        r = client.post("/login", data={"email": wb.USER_EMAIL, "password": wb.USER_PASSWORD, "csrf_token": token,
                                        "next": "/"}, follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        search_path = args.search_path
        if search_path == "auto":
            probe = client.get("/search", params={"q": "sm"}, headers={"HX-Request": "true"})
            search_path = "/search" if probe.status_code == 200 else "/customers"
        pages = {
            "session": lambda: ("/healthz-signed-in", None),
            "profile": lambda: (f"/customers/{rng.randint(1, args.customers)}", None),
            "search": lambda: (search_path, {"q": rng.choice(terms)}),
            "fans": lambda: ("/fans", None),
        }
        for page in args.pages.split(","):
            walls, sql_times, counts = [], [], []
            by_statement: dict[str, list[float]] = defaultdict(list)
            examples: dict[str, Any] = {}
            client.get("/fans" if page == "fans" else "/customers/1")  # warm
            for _ in range(args.n):
                path, params = pages[page]()
                if page == "session":
                    path = "/team"  # a light page: mostly the session lookup and the layout
                log.clear()
                t0 = time.perf_counter()
                r = client.get(path, params=params, headers={"HX-Request": "true"} if params else None)
                walls.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    print(f"  {path} {params}: {r.status_code}")
                counts.append(len(log))
                sql_times.append(sum(t for _s, t, _p in log))
                for stmt, t, p in log:
                    key = " ".join(stmt.split())[:160]
                    by_statement[key].append(t)
                    examples.setdefault(key, (stmt, p))
            med = statistics.median
            print(f"\n## {page} ({args.backend}, {args.n} requests{', ' + search_path if page == 'search' else ''})")
            print(f"wall: median {med(walls) * 1000:.1f} ms, p95 {sorted(walls)[int(0.95 * len(walls)) - 1] * 1000:.1f}"
                  f" ms; SQL statements per request: {min(counts)}-{max(counts)}; SQL time median "
                  f"{med(sql_times) * 1000:.1f} ms ({med(sql_times) / med(walls):.0%} of the wall time)")
            ranked = sorted(by_statement.items(), key=lambda kv: -sum(kv[1]))
            for key, times in ranked[:8]:
                print(f"  {len(times):4d} x median {med(times) * 1000:7.2f} ms  {key}")
            for key, _times in ranked[:args.plans]:
                stmt, params = examples[key]
                explain(engine, stmt, params)
            if args.cprofile:
                profile_page(app, pages[page], page, args.n, dict(client.cookies))


def profile_page(app, next_request, page: str, n: int, cookies: dict[str, str]) -> None:  # noqa: ANN001
    """cProfile of ``n`` requests of a page, all in this thread: own time grouped by library, heaviest app functions.

    The app runs its sync handlers in a thread pool, which cProfile does not see; here the pool is
    replaced by a direct call and the app is driven through httpx's ASGI transport in one event loop,
    so everything a request costs (routing, dependencies, SQL, templates) is profiled in one place.
    """
    import asyncio
    import cProfile
    import pstats

    import anyio.to_thread
    import httpx

    async def inline(func, *args, **_kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        return func(*args)

    async def run() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", cookies=cookies) as client:
            for _ in range(3):  # warm
                path, params = next_request()
                await client.get(path, params=params, headers={"HX-Request": "true"} if params else None)
            prof.enable()
            t0 = time.perf_counter()
            for _ in range(n):
                path, params = next_request()
                r = await client.get(path, params=params, headers={"HX-Request": "true"} if params else None)
                assert r.status_code == 200, (path, r.status_code)
            spent = time.perf_counter() - t0
            prof.disable()
            return spent

    original = anyio.to_thread.run_sync
    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    prof = cProfile.Profile()
    try:
        spent = asyncio.run(run())
    finally:
        anyio.to_thread.run_sync = original  # type: ignore[assignment]
    stats = pstats.Stats(prof)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    groups: dict[str, float] = defaultdict(float)
    libraries = ("ravingfans", "jinja2", "sqlalchemy", "pydantic", "starlette", "fastapi", "anyio", "httpx",
                 "psycopg", "markupsafe", "phonenumbers", "rapidfuzz", "polars", "zoneinfo", "json", "asyncio",
                 "sqlite3", "email", "urllib", "re")
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        if filename.endswith(".html") or filename == "<template>":
            groups["templates (compiled Jinja2)"] += tt
            continue
        for key in libraries:
            if f"/{key}/" in filename or filename.endswith(f"/{key}.py"):
                groups[key] += tt
                break
        else:
            groups["built-ins and C (" + (name[:40] if filename == "~" else "other") + ")"] += tt
    print(f"  in one thread (no HTTP server): {spent / n * 1000:.1f} ms per request; own time by library:")
    for key, tt in sorted(groups.items(), key=lambda kv: -kv[1])[:14]:
        print(f"    {key:52s} {tt / n * 1000:6.2f} ms  {tt / total:4.0%}")
    rows = [(k, v) for k, v in raw.items() if "/ravingfans/" in k[0] or "jinja2/environment" in k[0]]
    rows.sort(key=lambda kv: -kv[1][3])
    print("  heaviest ravingfans functions (cumulative):")
    for (filename, line, name), (_cc, nc, _tt, ct, _callers) in rows[:10]:
        short = filename.split("/site-packages/")[-1].split("/src/")[-1]
        print(f"    {ct / n * 1000:7.2f} ms  {nc / n:5.1f} calls/request  {short}:{line} {name}")


def explain(engine, stmt: str, params: Any) -> None:  # noqa: ANN001
    """Print the plan of one statement as it ran."""
    if not stmt.lstrip().upper().startswith("SELECT"):
        return
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()
        try:
            if engine.dialect.name == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + stmt, params)
                plan = [f"    {row[-1]}" for row in cur.fetchall()]
            else:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params)
                plan = [f"    {row[0]}" for row in cur.fetchall()]
        finally:
            cur.close()
            conn.execute(text("SELECT 1"))
    print("  plan of: " + " ".join(stmt.split())[:300])
    print("\n".join(plan[:25]))


if __name__ == "__main__":
    main()
