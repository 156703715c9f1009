"""What one hand-off to a worker thread costs (issue #4): the price of a plain ``def`` FastAPI dependency.

FastAPI runs a plain ``def`` dependency or route in a worker thread through Starlette's ``run_in_threadpool``.
This times ``--calls`` such hand-offs of a function that does nothing, on asyncio's event loop and, when it is
installed, on uvloop's, and prints CPU and wall microseconds a hand-off (web/deps.py keeps to the reads).

    .venv/bin/python bench/thread_handoff.py --calls 5000
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.concurrency import run_in_threadpool


def nothing() -> None:
    """The work handed over: none, so only the hand-off is measured."""


async def measure(calls: int) -> tuple[float, float]:
    """CPU and wall microseconds a hand-off, after 200 to start the worker threads."""
    for _ in range(200):
        await run_in_threadpool(nothing)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await run_in_threadpool(nothing)
    return (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    """Print the cost of a hand-off on each event loop available."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=5000)
    args = ap.parse_args(argv)
    loops: dict[str, Callable[[Coroutine[Any, Any, tuple[float, float]]], tuple[float, float]]] = {
        "asyncio": asyncio.run}
    try:
        import uvloop

        loops["uvloop"] = uvloop.run
    except ImportError:
        pass
    for name, run in loops.items():
        cpu, wall = run(measure(args.calls))
        print(f"{name:8s} a hand-off: CPU {cpu:6.1f} µs, wall {wall:6.1f} µs ({args.calls} calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
