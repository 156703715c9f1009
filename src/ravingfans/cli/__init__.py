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

from collections.abc import Iterator, Mapping  # noqa: E402
from functools import cache  # noqa: E402
from importlib import import_module  # noqa: E402

import typer  # noqa: E402
import typer.main  # noqa: E402
from typer.core import TyperCommand, TyperGroup  # noqa: E402

from ravingfans.errors import RavingFansError  # noqa: E402

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


@cache
def commands_of(modules: tuple[str, ...]) -> dict[str, TyperCommand | TyperGroup]:
    """The commands that ``modules`` register, built once per process."""
    part = typer.Typer()
    for name in modules:
        import_module(f"{__name__}.{name}").register(part)
    return dict(typer.main.get_group(part).commands)  # type: ignore[arg-type]


class _LazyCommands(Mapping[str, "TyperCommand | TyperGroup"]):
    """The root group's commands by name, each built on first use from :data:`COMMAND_MODULES`."""

    def __getitem__(self, name: str) -> TyperCommand | TyperGroup:
        if name not in COMMAND_MODULES:
            raise KeyError(name)
        return commands_of(COMMAND_MODULES[name])[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMAND_MODULES)

    def __len__(self) -> int:
        return len(COMMAND_MODULES)


class _LazyGroup(TyperGroup):
    """Typer's group, its command table replaced by one that builds a command only when it is asked for."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands = _LazyCommands()  # type: ignore[assignment]

    def get_help_option(self, ctx: typer.Context) -> object:
        """Typer's ``--help`` flag, its absence read as False rather than None.

        Typer (0.29) checks a flag's value with a pydantic adapter unless it is already a bool, so a None here
        imported pydantic (0.06-0.09 s) before any command ran. Commands with options of their own still import it
        when those are parsed; ``analyze``, whose start-up time is measured, has none (see cli/analyze.py).
        """
        option = super().get_help_option(ctx)  # type: ignore[arg-type]
        if option is not None and option.default is None:
            option.default = False
        return option


app = typer.Typer(
    name="ravingfans",
    cls=_LazyGroup,
    help="Turn customers into raving fans: know them, ask them, listen, and act.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Turn customers into raving fans: know them, ask them, listen, and act."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and report any RavingFansError as a message, never a traceback.

    Click's standalone mode answers usage errors itself (exit 2); everything else raised by a
    command arrives here.
    """
    try:
        app(args=argv, standalone_mode=True)
    except RavingFansError as exc:
        from ravingfans.cli.output import error

        error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become a message
        _unexpected(exc)


def entry() -> None:
    """The console script: :func:`main`, then an exit that skips the interpreter's last sweep for reference cycles.

    As Python shuts down it collects cycles across every object still alive: with NumPy, SciPy and Polars loaded
    that walk costs 0.1-0.2 s of each command's run (an eighth of `analyze` at a million orders, bench/RESULTS.md)
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
