"""`ravingfans serve` as a real process: it starts, serves pages and forms, stops; it refuses bad set-ups."""

from __future__ import annotations

import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from serving import running_server
from signin import LIVE_OWNER, PASSWORD, add_account, sign_in_http


def test_served_pages_and_forms_work_over_real_http(live_server: Any, shop: Any) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        assert http.get("/customers").status_code == 303  # not signed in yet: to the sign-in form
        csrf = sign_in_http(http)
        listing = http.get("/customers", params={"q": "ada"})
        assert listing.status_code == 200
        assert "Ada Lovelace" in listing.text and "Grace Hopper" not in listing.text
        assert "ada" not in live_server.output().lower()  # no access log: queries carry personal data
        assert "default-src 'none'" in listing.headers["content-security-policy"]
        assert "server" not in listing.headers
        refused = http.post(f"/customers/{shop.ada}/notes", data={"body": "no token"})
        assert refused.status_code == 403
        posted = http.post(f"/customers/{shop.ada}/notes", data={"body": "Called from a real <socket>",
                                                                 "csrf_token": csrf})
        assert posted.status_code == 303
        profile = http.get(posted.headers["location"])
        assert "Called from a real &lt;socket&gt;" in profile.text
        assert http.get("/static/app.css").status_code == 200
        assert http.get("/customers/31337").status_code == 404
    live_server.process.send_signal(signal.SIGINT)  # Ctrl+C
    assert live_server.process.wait(timeout=15) == 0
    assert f"Serving My Business at {live_server.url}/" in live_server.output()
    assert "Stopped." in live_server.output()


def test_served_process_stops_cleanly_on_sigterm(live_server: Any) -> None:
    assert httpx.get(live_server.url + "/login", timeout=10).status_code == 200
    live_server.process.terminate()
    assert live_server.process.wait(timeout=15) == 0
    assert "Stopped." in live_server.output()


def test_serve_refuses_an_uninitialised_database(empty_database_url: str, run_serve: Any, unused_port: int) -> None:
    done = run_serve(empty_database_url, "--port", str(unused_port))
    assert done.returncode == 3
    assert "not initialised" in done.stderr and "ravingfans init" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_refuses_production_without_a_secret(database_url: str, run_serve: Any, unused_port: int) -> None:
    done = run_serve(database_url, "--port", str(unused_port), RAVINGFANS_ENVIRONMENT="production")
    assert done.returncode == 2
    assert "RAVINGFANS_SECRET_KEY" in done.stderr


def test_serve_reports_a_port_in_use(database_url: str, run_serve: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run_serve(database_url, "--port", str(port))
    assert done.returncode == 2
    assert f"Cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_checks_its_port_argument(database_url: str, run_serve: Any) -> None:
    done = run_serve(database_url, "--port", "70000")
    assert done.returncode != 0
    assert "65535" in done.stderr and "Traceback" not in done.stderr


def test_forwarded_headers_count_only_from_trusted_proxies(database_url: str, shop: Any, db: Any,
                                                           tmp_path: Any) -> None:
    add_account(db, "owner", LIVE_OWNER)
    https = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9"}
    for trusted, secure in (("", False), ("127.0.0.1", True)):
        with running_server(database_url, tmp_path, RAVINGFANS_TRUSTED_PROXIES=trusted) as server:
            with httpx.Client(base_url=server.url, timeout=10, headers=https) as http:
                form = http.get("/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert token is not None
                nonce = form.cookies["rf_login"]  # a Secure cookie: httpx would not send it over plain HTTP
                http.cookies.clear()
                answer = http.post("/login", data={"email": LIVE_OWNER, "password": PASSWORD,
                                                   "csrf_token": token.group(1)},
                                   headers={"cookie": f"rf_login={nonce}"})
        assert answer.status_code == 303
        assert ("; secure" in answer.headers["set-cookie"].lower()) is secure, trusted


def test_several_workers_share_the_port_and_stop_together(database_url: str, shop: Any, db: Any,
                                                           tmp_path: Any) -> None:
    add_account(db, "owner", LIVE_OWNER)
    with running_server(database_url, tmp_path, "--workers", "2") as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            sign_in_http(http)  # the session made by one worker is known to the other: it lives in the database
            pages = [http.get("/customers", params={"q": "ada"}) for _ in range(12)]
        assert [page.status_code for page in pages] == [200] * 12, server.output()
        assert all("Ada Lovelace" in page.text for page in pages)
        deadline = time.monotonic() + 15  # a worker that served none of the pages may still be starting
        while server.output().count("Started server process") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        output = server.output()
        assert output.count("Started server process") == 2, output
        server.process.terminate()
        assert server.process.wait(timeout=20) == 0
    assert "Stopped." in server.output() and "Traceback" not in server.output()


def test_many_requests_at_once_are_all_served(live_server: Any, shop: Any) -> None:
    """More requests in flight than pooled connections (PostgreSQL: 5 + 10): each waits its turn, none fails.

    The sign-in lookup once ran on the event loop: with the pool empty it blocked the loop, and with it every
    request that would have given a connection back, until the pool timed out 30 s later.
    """
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        sign_in_http(http)
        cookies = dict(http.cookies)

    def fetch(i: int) -> int:
        with httpx.Client(base_url=live_server.url, timeout=30, cookies=cookies) as one:
            path = f"/customers/{shop.ada}" if i % 2 else "/customers?q=gr"
            return one.get(path).status_code

    with ThreadPoolExecutor(max_workers=48) as pool:
        codes = list(pool.map(fetch, range(96)))
    assert codes == [200] * 96
