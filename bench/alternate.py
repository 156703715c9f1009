"""Time whole commands against each other, alternating, and print each one's median and quartile (wall seconds).

    .venv/bin/python bench/alternate.py --rounds 20 \
        "PYTHONPATH=/tmp/old/src .venv/bin/python -c 'from ravingfans.cli import main; main()' analyze --help" \
        ".venv/bin/ravingfans analyze --help"

Each command is split as a shell would (shlex; leading NAME=value words set its environment) and run once a
round in the order given, so a neighbour that slows the machine for a while slows every command alike. Start-up
differences of a few hundredths of a second need this: single runs on a shared two-core machine vary by a fifth.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import time


def split(command: str) -> tuple[dict[str, str], list[str]]:
    """A command line's leading NAME=value assignments and its words."""
    words = shlex.split(command)
    env: dict[str, str] = {}
    while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    if not words:
        raise SystemExit(f"nothing to run in {command!r}")
    return env, words


def main() -> None:
    """Run every command --rounds times, in turns, and report their wall times."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("commands", nargs="+", help="command lines, each one quoted")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    parsed = [split(c) for c in args.commands]
    times: list[list[float]] = [[] for _ in parsed]
    for _ in range(args.rounds):
        for (env, words), took in zip(parsed, times, strict=True):
            start = time.perf_counter()
            subprocess.run(words, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)
            took.append(time.perf_counter() - start)
    for command, took in zip(args.commands, times, strict=True):
        took.sort()
        print(f"median {statistics.median(took):.3f} s  first quartile {took[len(took) // 4]:.3f} s  "
              f"fastest {took[0]:.3f} s  {command}")


if __name__ == "__main__":
    main()
