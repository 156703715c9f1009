"""The `ravingfans` command: a thin wrapper that turns library errors into friendly messages.

Each command group lives in its own module and calls service functions; domain errors become a
message and an exit code here, in :func:`main`, and nowhere else.
"""

from __future__ import annotations

import os
import sys

# Before anything imports NumPy: the analytics do no large dense linear algebra, while OpenBLAS's worker
# threads, woken by the optimiser's small BLAS calls, spin on the other core as the likelihood runs
# (BG/NBD fits 3x slower on two cores). One BLAS thread, unless the user chose otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer  # noqa: E402

from ravingfans.cli import core, customers, data, demo, export, outbox, scores, serve, users, validate  # noqa: E402
from ravingfans.cli import feedback  # noqa: E402
from ravingfans.cli import listening  # noqa: E402
from ravingfans.cli import surveys  # noqa: E402
from ravingfans.cli import campaigns, stock, tasks, word_of_mouth, worker  # noqa: E402
from ravingfans.errors import RavingFansError  # noqa: E402

app = typer.Typer(
    name="ravingfans",
    help="Turn customers into raving fans: know them, ask them, listen, and act.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
core.register(app)
data.register(app)
export.register(app)
customers.register(app)
scores.register(app)
validate.register(app)
demo.register(app)
serve.register(app)
users.register(app)
feedback.register(app)
outbox.register(app)
surveys.register(app)
listening.register(app)  # joins the `survey` group: keep it after surveys.register(app)
tasks.register(app)
campaigns.register(app)
stock.register(app)
word_of_mouth.register(app)
worker.register(app)


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
