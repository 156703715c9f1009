"""The `ravingfans` command: a thin wrapper that turns library errors into friendly messages.

Each command group lives in its own module, imported only when one of its commands runs, and calls
service functions; domain errors become a message and an exit code here, in :func:`main`, and nowhere else.
"""

from __future__ import annotations

import gc
import os
import sys

# Before anything imports NumPy: the analytics do no large dense linear algebra, while OpenBLAS's worker
# threads, woken by the optimiser's small BLAS calls, spin on the other core as the likelihood runs
# (BG/NBD fits 3x slower on two cores). One BLAS thread, unless the user chose otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from typing import TYPE_CHECKING, Any  # noqa: E402

from ravingfans.errors import RavingFansError  # noqa: E402

if TYPE_CHECKING:
    from ravingfans.cli.root import app, commands_of

__all__ = ["COMMAND_MODULES", "app", "commands_of", "entry", "main"]

# Every top-level command and the modules of this package whose ``register(app)`` add it, in the order
# `--help` lists them. `ravingfans X` imports and builds only X's modules (click's lazily loaded
# subcommands): `analyze`, `customer ID` or `import` start without importing every other command's
# dependencies and turning some seventy functions into commands (about 0.04 s of each start, see
# bench/RESULTS.md). A test checks this table against what the modules register.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "config": ("core",), "init": ("core",),
    "import": ("data",), "export": ("export",), "customers": ("customers",),
    "score": ("scores",), "fans": ("scores",), "segments": ("scores",), "slipping": ("scores",),
    "appeal": ("scores",), "customer": ("scores",), "analyze": ("analyze",),
    "validate": ("validate",), "demo": ("demo",), "serve": ("serve",),
    "user": ("users",), "token": ("users",),
    "feedback": ("feedback",), "outbox": ("outbox",),
    "survey": ("surveys", "listening"),  # listening joins the group surveys makes: keep this order
    "rules": ("tasks",), "tasks": ("tasks",), "gifts": ("campaigns",), "campaign": ("campaigns",),
    "wait": ("stock",), "holds": ("stock",), "stock": ("stock",), "restock": ("stock",),
    "advocates": ("word_of_mouth",), "mention": ("word_of_mouth",),
    "worker": ("worker",), "run-once": ("worker",), "jobs": ("worker",),
}


def __getattr__(name: str) -> Any:
    """``app`` and ``commands_of`` live in :mod:`ravingfans.cli.root` (Typer), loaded only when asked for."""
    if name in ("app", "commands_of"):
        from ravingfans.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and report any RavingFansError as a message, never a traceback.

    Click's standalone mode answers usage errors itself (exit 2); everything else raised by a
    command arrives here.
    """
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        if words[:1] == ["analyze"]:
            _analyze(words[1:])
        from ravingfans.cli.root import app

        app(args=words, standalone_mode=True)
    except RavingFansError as exc:
        from ravingfans.cli.output import error

        error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become a message
        _unexpected(exc)


def _analyze(words: list[str]) -> None:
    """`ravingfans analyze`, run without loading Typer (about 0.04 s of a process whose whole time issue #3 measures).

    The command parses its own words with argparse either way (cli/analyze.py), so Typer would only hand them on.
    """
    from ravingfans.cli.analyze import run

    run(words)
    sys.exit(0)


def entry() -> None:
    """The console script: :func:`main`, then an exit that skips the interpreter's last sweep for reference cycles.

    As Python shuts down it collects cycles across every object still alive: with NumPy, SciPy and Polars loaded
    that walk costs 0.1-0.2 s of each command's run (about a tenth of `analyze` at a million orders, bench/RESULTS.md)
    and frees nothing the operating system would not take back anyway. ``gc.freeze`` moves every object out of
    the collector's sight first; buffered output, files and connections are still flushed and closed by their
    own code as before (commands close what they open). Not in :func:`main`, which tests call in one process
    again and again.
    """
    try:
        main()
    finally:
        gc.freeze()


def _unexpected(exc: Exception) -> None:
    """A bug or an outside failure: one clear paragraph; the traceback only with RAVINGFANS_DEBUG=1."""
    import os

    from sqlalchemy.exc import OperationalError

    from ravingfans.cli.output import error

    if os.environ.get("RAVINGFANS_DEBUG"):
        raise exc
    if isinstance(exc, OperationalError):
        error(f"The database refused the operation: {exc.orig}. Nothing was changed. Check that it is reachable "
              "and not locked by another program, then try again.")
        sys.exit(3)
    error(f"Unexpected internal error ({type(exc).__name__}: {exc}). Nothing was changed. "
          "Run again with RAVINGFANS_DEBUG=1 to see the details, and please report it.")
    sys.exit(70)
