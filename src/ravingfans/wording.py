"""Plain English shared by every edge (CLI, worker summaries): counts with the right noun form."""

from __future__ import annotations

__all__ = ["counted"]


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``number`` with ``noun`` in its singular or plural form: "1 customer", "1,204 customers", "0 customers"."""
    return f"{number:,} {noun if number == 1 else (plural or noun + 's')}"
