"""Console output shared by every command: messages on stderr, data on stdout."""

from __future__ import annotations

from rich.console import Console

stdout = Console()
stderr = Console(stderr=True)


def error(message: str) -> None:
    """Print a user-facing error (no traceback)."""
    stderr.print(f"[bold red]Error:[/] {message}", markup=True, highlight=False, soft_wrap=True)


def info(message: str) -> None:
    """Print a progress or status line to stderr so stdout stays clean for data."""
    stderr.print(message, markup=False, highlight=False, soft_wrap=True)
