"""PostgreSQL advisory lock keys that more than one module takes, kept in one place so no two uses collide.

SQLite needs none of them: its writers run one at a time (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

IMPORT_MERGE = 7_270_001
"""An import's merge holds it alone (one merge at a time); an erasure holds it shared, so that it waits for a merge
that may be writing to the customer it erases, and a merge waits for the erasures under way."""
