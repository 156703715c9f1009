"""indexes for the as-you-type customer search (prefix ranges compared byte by byte)

The search (``ravingfans.services.search``) looks names, e-mails and phone numbers up by range
(``last_name >= 'Lov' AND last_name < 'Low'``), which an index serves only when both compare the same
way. SQLite compares text byte by byte (BINARY) already. On PostgreSQL the name indexes are built
with ``COLLATE "C"`` (the search asks for that collation), and e-mail and phone, stored normalised
(lower-case, E.164), get the "C" collation on the column itself so their existing indexes serve both
equality and prefix lookups. A (first_name, last_name) index joins the (last_name, first_name) one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_customers_first_last ON customers (first_name COLLATE "C", last_name COLLATE "C")')
        op.execute('DROP INDEX ix_customers_name')
        op.execute('CREATE INDEX ix_customers_name ON customers (last_name COLLATE "C", first_name COLLATE "C")')
        op.execute('ALTER TABLE customers ALTER COLUMN email TYPE VARCHAR(254) COLLATE "C"')
        op.execute('ALTER TABLE customers ALTER COLUMN phone TYPE VARCHAR(32) COLLATE "C"')
    else:
        op.create_index('ix_customers_first_last', 'customers', ['first_name', 'last_name'], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE customers ALTER COLUMN phone TYPE VARCHAR(32) COLLATE "default"')
        op.execute('ALTER TABLE customers ALTER COLUMN email TYPE VARCHAR(254) COLLATE "default"')
        op.execute('DROP INDEX ix_customers_name')
        op.execute('CREATE INDEX ix_customers_name ON customers (last_name, first_name)')
        op.execute('DROP INDEX ix_customers_first_last')
    else:
        op.drop_index('ix_customers_first_last', table_name='customers')
