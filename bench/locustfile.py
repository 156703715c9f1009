"""Locust load for the web-latency benchmark (issue #4): staff opening profiles, searching and looking at fans.

Run by ``bench/web_bench.py`` (which sets everything below through the environment); by hand:

    RF_PASSWORD=... RF_TERMS=bench/.data/search-terms.txt RF_STEPS=20:10,100:60 \\
    bench/.venvs/locust/bin/locust -f bench/locustfile.py --headless -u 60 -r 60 --host http://127.0.0.1:8765

Each simulated user signs in once like a browser (GET /login for the form's CSRF token and the
``rf_login`` cookie, POST /login, keep ``rf_session``), then repeats a weighted mix of:

- ``profile``: ``GET /customers/{id}`` for a random customer id;
- ``search``: ``GET {RF_SEARCH_PATH}?q=<term>`` with ``HX-Request: true`` (the fragment the search box
  asks for as you type); terms are 2-6 character prefixes of real names, e-mails and phone numbers of
  the database, some with a typo (``RF_TERMS``, one per line, written by web_bench.py);
- ``fans``: ``GET /fans``.

The load is a staircase of request rates (``RF_STEPS``: ``rate:seconds,...``; the runner treats the
first step as the warm-up, during which the users sign in, ``RF_SPAWN_RATE`` a second, because each
sign-in checks an argon2id hash). ``RF_USERS`` users share one clock that hands out a request slot
every ``1 / rate`` seconds to whichever user is free (an arrival rate, not a per-user think time, so a
new step's rate applies at once); when every user is busy the slots are missed (at most 0.1 s of them
is made up), so a server that cannot keep up shows as a lower achieved rate and longer times, and
the number of users bounds the requests in flight.
``RF_MIX`` weights the three tasks (e.g. ``profile=45,search=35,fans=20``). ``RF_LOG`` receives every
request as one JSON line (time, name, milliseconds, status, error) and every step change, so the runner
computes exact percentiles per step and per page.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from urllib.parse import quote

import gevent
from locust import LoadTestShape, events, task
from locust.contrib.fasthttp import FastHttpUser

EMAIL = os.environ.get("RF_EMAIL", "bench-owner@example.com")
PASSWORD = os.environ.get("RF_PASSWORD", "")
MAX_CUSTOMER = int(os.environ.get("RF_MAX_CUSTOMER", "1000000"))
SEARCH_PATH = os.environ.get("RF_SEARCH_PATH", "/search")
USERS = int(os.environ.get("RF_USERS", "60"))
STEPS = [(float(r), float(sec)) for r, sec in (p.split(":") for p in os.environ.get("RF_STEPS", "20:10,60:60")
                                                .split(","))]
SPAWN_RATE = float(os.environ.get("RF_SPAWN_RATE", "4"))  # users started a second: sign-ins hash a password
PACE = {"interval": 1.0 / STEPS[0][0], "next": 0.0}  # seconds between two requests (of any user); next slot
MIX = dict((k, int(v)) for k, v in (p.split("=") for p in os.environ.get("RF_MIX", "profile=45,search=35,fans=20")
                                     .split(",") if p))
TERMS = [t.rstrip("\n") for t in open(os.environ["RF_TERMS"], encoding="utf-8")] if os.environ.get("RF_TERMS") \
    else ["sm", "emma", "+1503", "joh", "garc", "lee"]
CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')
_LOG = open(os.environ["RF_LOG"], "w", encoding="utf-8") if os.environ.get("RF_LOG") else None  # noqa: SIM115


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None, **_kw) -> None:
    """Every request, as it ends, into the log the runner reads."""
    if _LOG is not None:
        status = getattr(response, "status_code", 0) if response is not None else 0
        _LOG.write(json.dumps({"t": time.time(), "name": name, "ms": response_time, "status": status,
                               "error": str(exception)[:200] if exception else None}) + "\n")


@events.quitting.add_listener
def _close(**_kw) -> None:
    if _LOG is not None:
        _LOG.flush()


class Staff(FastHttpUser):
    """A member of staff with the app open: signs in once, then profiles, searches and fans."""

    network_timeout = 10.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        """Sign in as the browser does; every later request carries the session cookie."""
        with self.client.get("/login", name="login form", catch_response=True) as form:
            found = CSRF.search(form.text or "")
            if not found:
                form.failure("no csrf_token on /login")
                raise RuntimeError("no csrf_token on /login")
        with self.client.post("/login", name="login", data={
                "email": EMAIL, "password": PASSWORD, "csrf_token": found.group(1), "next": "/"},
                allow_redirects=False, catch_response=True) as done:
            if done.status_code != 303 or "rf_session" not in (done.headers.get("set-cookie") or ""):
                done.failure(f"sign-in refused: {done.status_code}")
                raise RuntimeError(f"sign-in refused: {done.status_code}")

    def wait_time(self) -> float:
        """Wait until the shared clock hands out the next request slot (the step's rate, over all users)."""
        while True:
            now = time.monotonic()
            slot = PACE["next"]
            if now >= slot:
                # At most 0.1 s of missed slots are made up: a server that fell behind gets no burst.
                PACE["next"] = max(slot, now - 0.1) + PACE["interval"]
                return 0.0
            gevent.sleep(min(slot - now, 0.05))

    def _get(self, url: str, name: str, **kw) -> None:
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True, **kw) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")

    @task(MIX.get("profile", 0))
    def profile(self) -> None:
        """A customer's profile page."""
        self._get(f"/customers/{random.randint(1, MAX_CUSTOMER)}", "profile")

    @task(MIX.get("search", 0))
    def search(self) -> None:
        """What the search box asks for while typing."""
        self._get(f"{SEARCH_PATH}?q={quote(random.choice(TERMS))}", "search", headers={"HX-Request": "true"})

    @task(MIX.get("fans", 0))
    def fans(self) -> None:
        """The ranked fans list."""
        self._get("/fans", "fans")


class Steps(LoadTestShape):
    """All users from the start; the request rate they share follows RF_STEPS, then the test stops."""

    _step = -1

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        for index, (rate, seconds) in enumerate(STEPS):
            if elapsed < seconds:
                if index != self._step:
                    self._step = index
                    PACE["interval"] = 1.0 / rate
                    if _LOG is not None:
                        _LOG.write(json.dumps({"t": time.time(), "step": index, "rate": rate}) + "\n")
                return USERS, SPAWN_RATE
            elapsed -= seconds
        return None
