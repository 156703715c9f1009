"""Web latency and throughput of the staff app on the demo business at 1,000,000 customers / 10,000,000 orders.

For each backend (SQLite, PostgreSQL): builds the database if it is not cached yet (``bench/web_build.py``),
starts ``ravingfans serve`` in its own process, and drives it with Locust (``bench/locustfile.py``,
headless, in a separate process from ``bench/.venvs/locust``, made by ``bash bench/web_setup.sh``):

1. latency, one page at a time: the profile ``/customers/{id}``, the search fragment ``/search?q=``
   (or ``/customers?q=`` while /search does not exist) and ``/fans``, each at a steady rate for
   ``--duration`` seconds after a warm-up: p50/p95/p99 and errors;
2. throughput: the mixed read load (45% profile, 35% search, 20% fans) in steps of rising rate; the
   throughput is the highest step served at ≥ 95% of its rate with zero errors.

Percentiles are computed here, exactly, from every request Locust logged (not from its histogram).
The server and the load generator share the machine's cores; the CPU each used is reported.

    bash bench/web_setup.sh                       # once: the Locust virtualenv
    .venv/bin/python bench/web_bench.py --markdown /tmp/web.md
    .venv/bin/python bench/web_bench.py --backend sqlite --duration 20 --ramp 50,100 --ramp-step 15   # quick
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import web_build as wb  # noqa: E402

LOCUST = HERE / ".venvs" / "locust" / "bin" / "locust"
GOALS = {"profile": 50.0, "search": 50.0, "fans": 150.0}
GOAL_RATE = 300.0
MIX = "profile=45,search=35,fans=20"
KEYBOARD = {c: n for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm") for c, n in
            ((row[i], row[max(i - 1, 0)] + row[min(i + 1, len(row) - 1)]) for i in range(len(row)))}


def say(msg: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ search terms

def _typo(rng: random.Random, term: str) -> str:
    """One slip of the finger after the first character: a neighbouring key, a swap, or a dropped letter."""
    if len(term) < 3:
        return term
    i = rng.randrange(1, len(term))
    kind = rng.random()
    if kind < 0.5 and term[i].lower() in KEYBOARD:
        return term[:i] + rng.choice(KEYBOARD[term[i].lower()]) + term[i + 1:]
    if kind < 0.8 and i < len(term) - 1:
        return term[:i] + term[i + 1] + term[i] + term[i + 2:]
    return term[:i] + term[i + 1:]


def search_terms(folder: Path, out: Path, n: int = 4000, seed: int = 11) -> dict[str, Any]:
    """Prefixes of 2-6 characters of real names, e-mails and phones; 20% with one typo. Written one per line."""
    rng = random.Random(seed)
    people = (pl.read_parquet(folder / "customers.parquet", columns=["first_name", "last_name", "email", "phone"])
              .sample(n, seed=seed))
    terms, kinds = [], {"first name": 0, "last name": 0, "full name": 0, "email": 0, "phone": 0, "typo": 0}
    for first, last, email, phone in people.iter_rows():
        r = rng.random()
        if r < 0.15 and phone:
            national = phone[2:]  # +1 5035550123 -> as typed: 503 555..., or with the country code
            text, kind = (national if rng.random() < 0.7 else phone), "phone"
            size = rng.randint(3, 6)
        elif r < 0.35 and email:
            text, kind, size = email, "email", rng.randint(2, 6)
        elif r < 0.45:
            text, kind, size = f"{first} {last}", "full name", rng.randint(5, 6)
        elif r < 0.75:
            text, kind, size = last, "last name", rng.randint(2, 6)
        else:
            text, kind, size = first, "first name", rng.randint(2, 6)
        term = text[:size]
        if kind != "phone" and rng.random() < 0.7:
            term = term.lower()
        if kind != "phone" and rng.random() < 0.2:
            term = _typo(rng, term)
            kinds["typo"] += 1
        kinds[kind] += 1
        terms.append(term)
    out.write_text("\n".join(terms) + "\n", encoding="utf-8")
    return {"terms": len(terms), **kinds}


# ------------------------------------------------------------------------------------------ the server

def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (with its waited-for children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / tick


class Server:
    """``ravingfans serve`` in its own process group, its log in a file."""

    def __init__(self, url: str, port: int, log: Path, workers: int = 0, uvicorn_args: str = "") -> None:
        self.url, self.port, self.log, self.workers = url, port, log, workers
        self.uvicorn_args = uvicorn_args.split()
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        wb.ravingfans(self.url, "init")  # the shared checkout gains migrations while the benchmark runs
        out = self.log.open("wb")
        if self.workers:  # uvicorn's own worker processes over the same app (bench/web_app.py)
            cmd = [str(Path(wb.RAVINGFANS).with_name("uvicorn")), "web_app:app", "--app-dir", str(HERE),
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
                   "--no-server-header", "--no-proxy-headers", *self.uvicorn_args]
        else:  # what a user runs
            cmd = [wb.RAVINGFANS, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=wb.app_env(self.url), stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server stopped at start-up; see {self.log}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"the server did not answer /healthz; see {self.log}")

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            # A worker that hung (run D) outlived its killed parent and kept the port: end the whole group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def cpu(self) -> float:
        """CPU seconds the server (with its worker processes) has used so far."""
        assert self.proc is not None
        pids = [self.proc.pid]
        for child in Path("/proc").iterdir():
            if child.name.isdigit():
                try:
                    ppid = int(Path(child, "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == self.proc.pid:
                    pids.append(int(child.name))
        total = 0.0
        for pid in pids:
            try:
                total += _cpu_seconds(pid)
            except OSError:
                pass
        return total


def signed_in(base: str) -> httpx.Client:
    """An HTTP client signed in as the benchmark's owner, the way a browser does it."""
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/login")
    token = re.search(r'name="csrf_token"\s+value="([^"]+)"', form.text)
    if token is None:
        raise SystemExit("no csrf_token on /login")
    done = client.post("/login", data={"email": wb.USER_EMAIL, "password": wb.USER_PASSWORD,
                                       "csrf_token": token.group(1), "next": "/"})
    if done.status_code != 303 or "rf_session" not in client.cookies:
        raise SystemExit(f"sign-in refused ({done.status_code}): {done.text[:300]}")
    return client


def pick_search_path(base: str, wanted: str) -> str:
    """/search when the app has it (or as told), else the customer list's own search."""
    if wanted != "auto":
        return wanted
    with closing(signed_in(base)) as client:
        r = client.get("/search", params={"q": "sm"}, headers={"HX-Request": "true"})
    return "/search" if r.status_code == 200 else "/customers"


# ------------------------------------------------------------------------------------------ a Locust run

def run_locust(base: str, server: Server, *, mix: str, steps: list[tuple[float, float]], users: int,
               terms: Path, search_path: str, max_customer: int, log: Path) -> dict[str, Any]:
    """One headless Locust run; per step and page: requests, errors, achieved rate, p50/p95/p99 (ms)."""
    env = {**os.environ, "RF_EMAIL": wb.USER_EMAIL, "RF_PASSWORD": wb.USER_PASSWORD, "RF_TERMS": str(terms),
           "RF_SEARCH_PATH": search_path, "RF_MAX_CUSTOMER": str(max_customer), "RF_MIX": mix,
           "RF_USERS": str(users), "RF_STEPS": ",".join(f"{r:g}:{s:g}" for r, s in steps), "RF_LOG": str(log)}
    cmd = [str(LOCUST), "-f", str(HERE / "locustfile.py"), "--headless", "--host", base, "--only-summary",
           "--loglevel", "WARNING", "--stop-timeout", "15"]
    cpu0 = server.cpu()
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)  # the Locust process's own CPU time, from the kernel
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    server_cpu = server.cpu() - cpu0
    locust_cpu = usage.ru_utime + usage.ru_stime
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    marks = [x for x in lines if "step" in x]
    reqs = [x for x in lines if "name" in x and x["name"] in ("profile", "search", "fans")]
    result: dict[str, Any] = {"steps": [], "wall_s": round(wall, 1), "server_cpu_s": round(server_cpu, 1),
                              "load_1min": [round(load0, 1), round(os.getloadavg()[0], 1)],
                              "locust_cpu_s": round(locust_cpu, 1), "logins_failed": sum(
                                  1 for x in lines if x.get("name") == "login" and (x["error"] or x["status"] != 303))}
    if proc.returncode not in (0, 1):
        say(f"locust exited {proc.returncode}:\n{out.decode(errors='replace')[-3000:]}")
    for i, mark in enumerate(marks):
        if i == 0:
            continue  # the warm-up, while the users sign in
        start = mark["t"] + 2.0  # a moment for the new rate to settle
        end = marks[i + 1]["t"] if i + 1 < len(marks) else max((x["t"] for x in reqs), default=start)
        inside = [x for x in reqs if start <= x["t"] < end]
        seconds = max(end - start, 1e-9)
        step = {"target_rate": mark["rate"], "seconds": round(seconds, 1), "requests": len(inside),
                "achieved_rate": round(len(inside) / seconds, 1),
                "errors": sum(1 for x in inside if x["error"] or x["status"] != 200), "pages": {}}
        for name in ("profile", "search", "fans", "all"):
            ms = np.array([x["ms"] for x in inside if name in ("all", x["name"])], dtype=float)
            if ms.size:
                p50, p95, p99 = np.percentile(ms, [50, 95, 99])
                step["pages"][name] = {"n": int(ms.size), "p50": round(p50, 1), "p95": round(p95, 1),
                                       "p99": round(p99, 1), "max": round(float(ms.max()), 1),
                                       "errors": sum(1 for x in inside if name in ("all", x["name"])
                                                     and (x["error"] or x["status"] != 200))}
        result["steps"].append(step)
    errors = [x for x in reqs if x["error"] or x["status"] != 200]
    result["error_examples"] = sorted({f"{x['name']}: {x['status']} {x['error']}" for x in errors})[:5]
    return result


# ------------------------------------------------------------------------------------------ the whole run

def _warmup(args: argparse.Namespace, users: int) -> float:
    """Seconds of warm-up: at least --warmup, and enough for every user to sign in (4 a second, ~0.2 s each)."""
    return max(float(args.warmup), users / 4 + users * 0.25 + 5)


def bench_backend(backend: str, args: argparse.Namespace, terms: Path) -> dict[str, Any]:
    """Latency per page, then the mixed ramp, on one backend; a fresh server for each run.

    A fresh server per run keeps one run's leftovers (requests the server still works through after
    Locust gave up on them) out of the next run's figures.
    """
    url = wb.db_url(backend, args.customers, args.orders)
    logs = wb.DATA / "runs"
    logs.mkdir(exist_ok=True)
    out: dict[str, Any] = {"backend": backend, "url": url, "workers": args.workers, "uvicorn_args": args.uvicorn_args}

    def serve(tag: str) -> Server:
        return Server(url, args.port, logs / f"server-{backend}-{tag}.log", args.workers, args.uvicorn_args)

    with serve("check") as server:
        search_path = pick_search_path(server.base, args.search_path)
        out["search_path"] = search_path
        say(f"{backend}: serving at {server.base}; search at {search_path}")
        with closing(signed_in(server.base)) as client:  # one of each, so a broken page fails loudly here
            for path, params in (("/customers/1", None), (search_path, {"q": "sm"}), ("/fans", None)):
                r = client.get(path, params=params, headers={"HX-Request": "true"} if params else None)
                if r.status_code != 200:
                    raise SystemExit(f"{backend}: GET {path} answered {r.status_code}: {r.text[:300]}")
    for page in ("profile", "search", "fans"):
        if page not in args.pages:
            continue
        rate = args.latency_rate
        say(f"{backend}: {page} alone, 1/s for {args.light} s then {rate:g}/s for {args.duration} s")
        steps = [(1, _warmup(args, args.latency_users)), (1, args.light), (rate, args.duration)]
        with serve(page) as server:
            run = run_locust(server.base, server, mix=f"{page}=1", steps=steps, users=args.latency_users,
                             terms=terms, search_path=search_path, max_customer=args.customers,
                             log=logs / f"{backend}-{page}.jsonl")
        out[page] = run
        for s in run["steps"]:
            p = s["pages"].get(page, {})
            say(f"  at {s['target_rate']:g}/s: {s['achieved_rate']}/s, p50 {p.get('p50')} p95 {p.get('p95')} "
                f"p99 {p.get('p99')} ms, {s['errors']} errors")
        say(f"  server CPU {run['server_cpu_s']} s, locust CPU {run['locust_cpu_s']} s, {run['wall_s']} s wall, "
            f"load average {run['load_1min'][0]} -> {run['load_1min'][1]}")
    if args.ramp:
        steps = [(2.0, _warmup(args, args.ramp_users))] + [(float(r), float(args.ramp_step)) for r in args.ramp]
        out["mix"] = args.mix
        say(f"{backend}: mixed ({args.mix}) ramp {','.join(f'{r:g}' for r in args.ramp)}/s, {args.ramp_step} s each")
        with serve("mixed") as server:
            run = run_locust(server.base, server, mix=args.mix, steps=steps, users=args.ramp_users, terms=terms,
                             search_path=search_path, max_customer=args.customers,
                             log=logs / f"{backend}-mixed.jsonl")
        out["mixed"] = run
        best = peak = None
        for s in run["steps"]:
            ok = s["errors"] == 0 and s["achieved_rate"] >= 0.95 * s["target_rate"]
            s["sustained"] = ok
            a = s["pages"].get("all", {})
            say(f"  target {s['target_rate']:g}/s: achieved {s['achieved_rate']}/s, {s['errors']} errors, "
                f"p95 {a.get('p95')} ms{' (sustained)' if ok else ''}")
            if ok and (best is None or s["achieved_rate"] > best["achieved_rate"]):
                best = s
            if s["errors"] == 0 and (peak is None or s["achieved_rate"] > peak["achieved_rate"]):
                peak = s
        # throughput: the most requests a second served in a step without a single error (the server
        # saturated if that is below the step's target); sustained: the highest step kept up with (>= 95%)
        out["throughput"] = peak["achieved_rate"] if peak else 0.0
        out["sustained_rate"] = best["achieved_rate"] if best else 0.0
        say(f"  server CPU {run['server_cpu_s']} s, locust CPU {run['locust_cpu_s']} s, {run['wall_s']} s wall, "
            f"load average {run['load_1min'][0]} -> {run['load_1min'][1]}")
    return out


def machine() -> dict[str, Any]:
    """Date, machine, commit."""
    mem = next((int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines()
                if x.startswith("MemTotal")), 0)
    cpu = next((x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                if x.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=wb.ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=wb.ROOT,
                                capture_output=True, text=True).stdout.strip())
    pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "show server_version"],
                        capture_output=True, text=True).stdout.strip()
    locust = subprocess.run([str(LOCUST), "--version"], capture_output=True, text=True).stdout.strip()
    import sqlite3

    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "nproc": os.cpu_count(),
            "cpu": cpu, "mem_gib": round(mem / 2**20, 1), "commit": commit, "dirty": dirty,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "postgresql": pg,
            "locust": locust, "load_avg": os.getloadavg()}


def markdown(info: dict[str, Any], results: list[dict[str, Any]], builds: dict[str, Any], args) -> str:
    """The figures as a RESULTS.md fragment: latency per page and throughput, as ratios to the goals."""
    server = ("`ravingfans serve` (one uvicorn process)" if not args.workers else
              " ".join(["uvicorn --workers", str(args.workers), *args.uvicorn_args.split(), "(bench/web_app.py)"]))
    lines = [f"- run: {info['date']}, ravingfans at `{info['commit']}`"
             f"{' (working tree dirty: uncommitted changes of the helpers in progress)' if info['dirty'] else ''}",
             f"- machine: {info['cpu']}, {info['nproc']} cores (nproc), {info['mem_gib']} GiB RAM; load average at "
             f"start {', '.join(f'{x:.1f}' for x in info['load_avg'])}, at the end "
             f"{', '.join(f'{x:.1f}' for x in info.get('load_avg_end', ()))} (other work shares the machine)",
             f"- Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {info['postgresql']}, {info['locust']}",
             f"- server: {server}; load: Locust headless, {args.latency_users} users "
             f"for the per-page runs and {args.ramp_users} for the mixed ramp, in a separate process on the same "
             f"2 cores", ""]
    lines += ["| backend | page | rate (req/s) | requests | errors | p50 ms | p95 ms | p99 ms | goal p95 | "
              "p95 / goal | load avg |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        for page in ("profile", "search", "fans"):
            if page not in r:
                continue
            for s in r[page]["steps"]:
                p = s["pages"].get(page, {})
                label = page if page != "search" else f"search ({r['search_path']})"
                lines.append(f"| {r['backend']} | {label} | {s['achieved_rate']:g} of {s['target_rate']:g} | "
                             f"{s['requests']:,} | {s['errors']} | {p.get('p50', '')} | {p.get('p95', '')} | "
                             f"{p.get('p99', '')} | {GOALS[page]:g} | {p.get('p95', 0) / GOALS[page]:.2f} | "
                             f"{' → '.join(map(str, r[page].get('load_1min', [])))} |")
    lines += ["", f"Mixed read load ({args.mix}), rising in steps of "
              f"{args.ramp_step} s; a step counts when served at ≥ 95% of its rate with zero errors:", "",
              "| backend | target req/s | achieved req/s | errors | p50 ms | p95 ms | p99 ms | profile p95 | "
              "search p95 | fans p95 | sustained |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        for s in r.get("mixed", {}).get("steps", []):
            a, pg = s["pages"].get("all", {}), s["pages"]
            lines.append(f"| {r['backend']} | {s['target_rate']:g} | {s['achieved_rate']:g} | {s['errors']} | "
                         f"{a.get('p50', '')} | {a.get('p95', '')} | {a.get('p99', '')} | "
                         f"{pg.get('profile', {}).get('p95', '')} | {pg.get('search', {}).get('p95', '')} | "
                         f"{pg.get('fans', {}).get('p95', '')} | {'yes' if s.get('sustained') else 'no'} |")
    lines += ["", "| backend | throughput with zero errors (req/s) | goal | ratio | highest rate kept up with (req/s) | "
              "server CPU s / locust CPU s (ramp) | load avg |", "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in results:
        if "mixed" in r:
            lines.append(f"| {r['backend']} | {r['throughput']:g} | {GOAL_RATE:g} | {r['throughput'] / GOAL_RATE:.2f} |"
                         f" {r['sustained_rate']:g} | {r['mixed']['server_cpu_s']} / {r['mixed']['locust_cpu_s']} of "
                         f"{r['mixed']['wall_s']} s wall | {' → '.join(map(str, r['mixed'].get('load_1min', [])))} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description="Web latency and throughput benchmark (issue #4).")
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--duration", type=int, default=60, help="seconds of each per-page latency run")
    ap.add_argument("--warmup", type=int, default=15, help="seconds of warm-up (sign-ins) before each run")
    ap.add_argument("--latency-rate", type=float, default=10.0, help="requests/s of the per-page steady runs")
    ap.add_argument("--light", type=int, default=20, help="seconds at 1 request/s before each steady per-page run")
    ap.add_argument("--latency-users", type=int, default=10)
    ap.add_argument("--pages", default="profile,search,fans", help="which per-page runs to do")
    ap.add_argument("--ramp", default="10,25,50,75,100,125,150,200,300",
                    help="target rates of the mixed steps (empty: no ramp)")
    ap.add_argument("--mix", default=MIX, help="task weights of the ramp (default: %(default)s)")
    ap.add_argument("--ramp-step", type=int, default=30, help="seconds per ramp step")
    ap.add_argument("--ramp-users", type=int, default=12,
                    help="users of the ramp (the requests in flight at most); above ~14 the app's 15-connection "
                         "pool and its session lookup on the event loop stall the server (see RESULTS.md)")
    ap.add_argument("--search-path", default="auto", help="/search, /customers, or auto (/search if it exists)")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--workers", type=int, default=0,
                    help="0: `ravingfans serve` (one process); N: uvicorn --workers N over bench/web_app.py")
    ap.add_argument("--uvicorn-args", default="",
                    help="more uvicorn options with --workers, e.g. '--http h11 --loop asyncio'")
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args()
    args.pages = [p for p in args.pages.split(",") if p]
    args.ramp = [float(x) for x in args.ramp.split(",") if x]
    if not LOCUST.exists():
        raise SystemExit("no Locust: run `bash bench/web_setup.sh` first")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    folder = wb.generated(args.customers, args.orders, 7)
    builds = {b: wb.build_backend(b, folder, args.customers, args.orders, False) for b in backends}
    terms = wb.DATA / "search-terms.txt"
    term_kinds = search_terms(folder, terms)
    info = machine()
    say(f"machine: {info}")
    results = [bench_backend(b, args, terms) for b in backends]
    info["load_avg_end"] = os.getloadavg()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (wb.DATA / "runs" / f"results-{stamp}.json").write_text(json.dumps(
        {"machine": info, "args": {k: v for k, v in vars(args).items() if k != "markdown"}, "terms": term_kinds,
         "builds": builds, "results": results}, indent=1, default=str))
    text = markdown(info, results, builds, args)
    if args.markdown:
        args.markdown.write_text(text)
    print(text)
    say(f"details: {wb.DATA / 'runs' / f'results-{stamp}.json'}")


if __name__ == "__main__":
    main()
