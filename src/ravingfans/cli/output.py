"""Console output shared by every command: messages on stderr, data on stdout.

Plain lines go out with :func:`print`; rich, which tables and the styled error need, is imported on first
use: it costs about 0.07 s to import, a tenth of what `analyze` takes on a million orders (bench/RESULTS.md).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """A rich ``Console`` made on first use; every attribute is the real console's."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def get(self) -> Console:
        """The console itself, for rich APIs that take one (a progress bar)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


stdout = _LazyConsole()
stderr = _LazyConsole(stderr=True)


def error(message: str) -> None:
    """Print a user-facing error (no traceback)."""
    stderr.print(f"[bold red]Error:[/] {message}", markup=True, highlight=False, soft_wrap=True)


def info(message: str) -> None:
    """Print a progress or status line to stderr so stdout stays clean for data."""
    print(message, file=sys.stderr, flush=True)


def say(message: str) -> None:
    """Print one plain line of data or outcome to stdout, unwrapped and unstyled."""
    print(message, file=sys.stdout, flush=True)
