"""Server CPU per page under uvicorn, one request at a time (issue #4): what each page costs the server itself.

Starts the app as ``bench/web_app.py`` does (one uvicorn process) on a database built by ``web_build.py``,
signs in like a browser, then asks for each page ``--requests`` times over one keep-alive connection from
this process, and reads the server's CPU seconds from /proc before and after. No load generator shares the
cores, so two commits can be compared on one machine: run the old one with its source on ``PYTHONPATH``
(a ``git worktree``), alternating, a few times each.

    .venv/bin/python bench/page_cpu.py --backend sqlite --customers 100000 --orders 1000000
    PYTHONPATH=/tmp/old/src .venv/bin/python bench/page_cpu.py ...   (the server runs the older code)

With ``--against /tmp/old`` (a checkout of an older commit) a second server runs that checkout's code beside
this one, and the requests go to the two in turns of ``--requests / --rounds``: a neighbour that slows the
machine for a minute slows both alike, and the ratio of the two is the figure to read.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).parent))

import web_build  # noqa: E402

PAGES = {"search": "/search?q=anna", "fans": "/fans", "profile": "/customers/{id}",
         "healthz": "/healthz"}  # the last: the framework's floor, no database, not signed in
MEASURED = ("search", "fans", "profile")


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sign_in(conn: http.client.HTTPConnection) -> str:
    """The cookies of a signed-in browser (the benchmark's owner)."""
    conn.request("GET", "/login")
    form = conn.getresponse()
    body = form.read().decode()
    nonce = (form.getheader("set-cookie") or "").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', body)
    conn.request("POST", "/login", body=urlencode({"email": web_build.USER_EMAIL, "password": web_build.USER_PASSWORD,
                                                   "csrf_token": token.group(1) if token else "", "next": "/"}),
                 headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": nonce})
    done = conn.getresponse()
    done.read()
    if done.status != 303:
        raise SystemExit(f"could not sign in ({done.status}): build the database with bench/web_build.py")
    return "; ".join(v.split(";")[0] for k, v in done.getheaders() if k.lower() == "set-cookie")


def start_server(args: argparse.Namespace, port: int, source: Path | None) -> subprocess.Popen[bytes]:
    """A uvicorn process serving the app on ``port``, from ``source``/src when given (an older checkout)."""
    env = {**web_build.app_env(web_build.db_url(args.backend, args.customers, args.orders)),
           "RAVINGFANS_SECRET_KEY": "bench-" * 8}
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    uvicorn = str(Path(web_build.RAVINGFANS).with_name("uvicorn"))
    return subprocess.Popen([uvicorn, "web_app:app", "--app-dir", str(Path(__file__).parent), "--port", str(port),
                             "--log-level", "warning", "--no-access-log",
                             # with --against each connection waits while the other server has its turn (seconds)
                             "--timeout-keep-alive", "600", *args.uvicorn_args.split()], env=env)


def connect(port: int) -> tuple[http.client.HTTPConnection, dict[str, str]]:
    """A keep-alive connection to a server once it answers, and the headers of a signed-in browser."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(300):
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            break
        except OSError:
            conn.close()
            time.sleep(0.2)
    return conn, {"Cookie": sign_in(conn), "HX-Request": "true"}  # the search box asks for a fragment


def main(argv: list[str] | None = None) -> int:
    """Measure the pages and print server CPU and wall milliseconds per request."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    web_build.database_arguments(ap)
    ap.add_argument("--requests", type=int, default=1000, help="per page, after 50 to warm up")
    ap.add_argument("--pages", default=",".join(MEASURED), help=f"some of {', '.join(PAGES)}")
    ap.add_argument("--port", type=int, default=8799)
    ap.add_argument("--uvicorn-args", default="", help="more uvicorn options, e.g. '--http h11 --loop asyncio'")
    ap.add_argument("--against", type=Path, help="an older checkout to serve beside this one, in turns")
    ap.add_argument("--rounds", type=int, default=10, help="turns per page with --against")
    args = ap.parse_args(argv)
    sources: dict[str, Path | None] = {"this": None}
    if args.against is not None:
        sources["against"] = args.against
    servers = {name: start_server(args, args.port + i, source) for i, (name, source) in enumerate(sources.items())}
    try:
        clients = {name: connect(args.port + i) for i, name in enumerate(servers)}
        rounds = args.rounds if args.against is not None else 1
        per_round = max(1, args.requests // rounds)
        for page in args.pages.split(","):
            rnd = random.Random(1)
            spent = {name: [0.0, 0.0] for name in servers}
            for turn in range(rounds + 1):  # turn 0 warms up, unmeasured
                addresses = [PAGES[page].replace("{id}", str(rnd.randint(1, args.customers)))
                             for _ in range(50 if turn == 0 else per_round)]
                for name in (servers if turn % 2 else reversed(list(servers))):
                    conn, headers = clients[name]
                    cpu, wall = server_cpu(servers[name].pid), time.perf_counter()
                    for address in addresses:
                        conn.request("GET", address, headers=headers)
                        answer = conn.getresponse()
                        answer.read()
                        if answer.status != 200:
                            raise SystemExit(f"{page} answered {answer.status} ({name})")
                    if turn:
                        spent[name][0] += server_cpu(servers[name].pid) - cpu
                        spent[name][1] += time.perf_counter() - wall
            done = per_round * rounds
            for name, (cpu, wall) in spent.items():
                label = "" if args.against is None else f" {name:7s}"
                print(f"{args.backend} {page:8s}{label} server CPU {cpu / done * 1000:6.2f} ms a request, "
                      f"wall {wall / done * 1000:6.2f} ms", flush=True)
            if args.against is not None:
                print(f"{args.backend} {page:8s} this / against: CPU {spent['this'][0] / spent['against'][0]:.3f}, "
                      f"wall {spent['this'][1] / spent['against'][1]:.3f}", flush=True)
    finally:
        for server in servers.values():
            server.terminate()
            server.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
