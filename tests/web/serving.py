"""A real `ravingfans serve` process for tests: its command line, environment, start-up wait and stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(*args: str) -> list[str]:
    """The `ravingfans` command line from this virtualenv."""
    return [sys.executable, "-c", "from ravingfans.cli import main; main()", *args]


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment for a child process: ours without RAVINGFANS_*, plus the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAVINGFANS_")}
    env.update({"RAVINGFANS_DATABASE_URL": database_url, "RAVINGFANS_TIME_ZONE": "Asia/Tokyo",
                "RAVINGFANS_CURRENCY": "EUR", **extra})
    return env


@dataclass
class LiveServer:
    """A running `ravingfans serve` process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """What the server printed so far."""
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(database_url: str, tmp_path: Path, *args: str, **env: str) -> Iterator[LiveServer]:
    """`ravingfans serve ARGS` in a child process on a free port (extra RAVINGFANS_* in ``env``), stopped after."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(serve_command("serve", "--host", "127.0.0.1", "--port", str(port), *args),
                                   env=child_env(database_url, **env), stdout=sink, stderr=subprocess.STDOUT,
                                   cwd=tmp_path)
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log=log)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"serve did not answer within 30 s:\n{server.output()}")
        time.sleep(0.1)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
