"""indexes that let the customer list's search find its matches instead of reading every customer

The customer list's search box matches the start of the first name, last name, e-mail or phone, case-blind
(``services/customers.py``: ``search_clause``). Each of those four tests can be served by an index range scan
when an index compares the way the test does, and both databases then answer the OR of them by combining
the four scans (SQLite's multi-index OR, PostgreSQL's BitmapOr) rather than reading the whole book twice
(count and page: 0.5-1.6 s at a million customers, bench/RESULTS.md).

- SQLite: its LIKE folds ASCII case, which an index serves only if it is built ``COLLATE NOCASE`` (SQLite's
  "LIKE optimization"); the names get such indexes. E-mail and phone, stored normalised (lower-case, E.164),
  are matched with GLOB, which the existing BINARY indexes serve.
- PostgreSQL: the names are matched as ``lower(name) LIKE 'ann%'``, served by an index on ``lower(name)`` with
  ``text_pattern_ops`` (whatever the database's locale); e-mail and phone have "C"-collated columns since
  migration 0005, whose plain indexes serve a prefix LIKE already.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 08:10:00
"""
from __future__ import annotations

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

NAMES = ("first_name", "last_name")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for column in NAMES:
        expression = f"lower({column}) text_pattern_ops" if postgresql else f"{column} COLLATE NOCASE"
        op.execute(f"CREATE INDEX ix_customers_{column}_folded ON customers ({expression})")


def downgrade() -> None:
    for column in NAMES:
        op.execute(f"DROP INDEX ix_customers_{column}_folded")
