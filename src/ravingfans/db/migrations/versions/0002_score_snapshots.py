"""score snapshots: every scoring run and each customer's scores in it

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 07:36:59.462121
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ravingfans.db.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('score_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('observation_end', sa.Date(), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=20), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('fallback_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_runs'))
    )
    op.create_table('customer_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('first_purchase', sa.Date(), nullable=False),
    sa.Column('last_purchase', sa.Date(), nullable=False),
    sa.Column('purchases', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('recency', sa.Float(), nullable=False),
    sa.Column('T', sa.Float(), nullable=False),
    sa.Column('monetary_value', sa.Float(), nullable=False),
    sa.Column('total_spend', sa.Float(), nullable=False),
    sa.Column('mean_gap', sa.Float(), nullable=True),
    sa.Column('gap_std', sa.Float(), nullable=True),
    sa.Column('days_since_last', sa.Float(), nullable=False),
    sa.Column('R', sa.SmallInteger(), nullable=False),
    sa.Column('F', sa.SmallInteger(), nullable=False),
    sa.Column('M', sa.SmallInteger(), nullable=False),
    sa.Column('FM', sa.SmallInteger(), nullable=False),
    sa.Column('segment', sa.String(length=40), nullable=False),
    sa.Column('p_alive', sa.Float(), nullable=True),
    sa.Column('expected_purchases', sa.Float(), nullable=True),
    sa.Column('expected_spend', sa.Float(), nullable=True),
    sa.Column('clv', sa.Float(), nullable=True),
    sa.Column('slipping_rank', sa.Integer(), nullable=True),
    sa.Column('value_at_risk', sa.Float(), nullable=True),
    sa.Column('slipping_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_scores_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['score_runs.id'], name=op.f('fk_customer_scores_run_id_score_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_scores')),
    sa.UniqueConstraint('run_id', 'customer_id', name=op.f('uq_customer_scores_run_id_customer_id')),
    )
    with op.batch_alter_table('customer_scores', schema=None) as batch_op:
        batch_op.create_index('ix_customer_scores_customer_run', ['customer_id', 'run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('customer_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_scores_customer_run')

    op.drop_table('customer_scores')
    op.drop_table('score_runs')
