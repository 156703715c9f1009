"""customers get an index on the customer list's name order; the erased-at index holds only erased rows

The customer list sorts by surname (else first name, e-mail, phone) and then first name, case-blind. At a
million customers every page sorted the whole table (about a second). An index on those two expressions
and the id lets a page read its rows in order. The list's ORDER BY must spell the expressions exactly as
here (services/customers.py: ``name_order``): lower() on PostgreSQL; on SQLite COLLATE NOCASE, not lower(),
which the application replaces there with a Python function that no index may call.

The index on erased_at held every live customer under NULL; SQLite, before it has statistics, took it for
a selective way into ``erased_at IS NULL`` and read whole lists through it, then sorted them. It now holds
only the erased rows (the few that lookups of erased customers want).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 06:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

SURNAME_FIRST = "coalesce(nullif(last_name, ''), nullif(first_name, ''), email, phone, '')"
FIRST = "coalesce(first_name, '')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        columns = f"lower({SURNAME_FIRST}), lower({FIRST}), id"
    else:
        columns = f"{SURNAME_FIRST} COLLATE NOCASE, {FIRST} COLLATE NOCASE, id"
    op.execute(f"CREATE INDEX ix_customers_name_order ON customers ({columns})")
    op.drop_index("ix_customers_erased_at", table_name="customers")
    op.create_index("ix_customers_erased_at", "customers", ["erased_at"], unique=False,
                    sqlite_where=sa.text("erased_at IS NOT NULL"), postgresql_where=sa.text("erased_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_customers_erased_at", table_name="customers")
    op.create_index("ix_customers_erased_at", "customers", ["erased_at"], unique=False)
    op.execute("DROP INDEX ix_customers_name_order")
