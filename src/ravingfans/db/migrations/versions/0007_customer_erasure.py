"""customers can be erased: erased_at and erased_by on the tombstone, and the suppression markers

Erasing a customer (the right to erasure, services/erasure.py) clears every personal field and keeps
the row, so orders and moments of truth still count; ``erased_at`` marks it (indexed: every list
asks for ``erased_at IS NULL``) and ``erased_by`` names the owner who did it. A keyed hash of the
erased e-mail and phone goes to ``erasure_suppressions`` so a later record of the same address
starts without marketing consent.

On SQLite batch mode rebuilds the customers table (a copy: this takes a while on a large book); the
migration environment turns foreign keys off meanwhile, so dropping the old table cascades nowhere.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ravingfans.db.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_customers_erased_by_users'), 'users', ['erased_by'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_customers_erased_at'), ['erased_at'], unique=False)
    op.create_table('erasure_suppressions',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_erasure_suppressions'))
    )


def downgrade() -> None:
    op.drop_table('erasure_suppressions')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_erased_at'))
        batch_op.drop_constraint(batch_op.f('fk_customers_erased_by_users'), type_='foreignkey')
        batch_op.drop_column('erased_by')
        batch_op.drop_column('erased_at')
