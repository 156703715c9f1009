"""score runs keep their segment counts; customer scores get an index for the fans list by value

The fans page shows the best customers of a run by lifetime value and the number in each segment.
At a million customers, grouping every score row on each page view and sorting them all by value
took seconds; the counts are now stored with the run when it is made, and an index on
(run_id, clv) lets the list read its first rows in order, backwards (the list asks for the rows
with a value first, then those without, so both databases can use the same plain index).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('score_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('segments', sa.JSON(), nullable=True))
    op.create_index('ix_customer_scores_run_clv', 'customer_scores', ['run_id', 'clv'], unique=False)
    _count_existing_runs()


def _count_existing_runs() -> None:
    """Fill the counts of runs made before this migration, so every run reads them the same way."""
    bind = op.get_bind()
    runs = sa.table('score_runs', sa.column('id', sa.Integer), sa.column('segments', sa.JSON))
    scores = sa.table('customer_scores', sa.column('run_id', sa.Integer), sa.column('segment', sa.String),
                      sa.column('clv', sa.Float))
    totals: dict[int, dict[str, list[float]]] = {}
    rows = bind.execute(sa.select(scores.c.run_id, scores.c.segment, sa.func.count(),
                                  sa.func.coalesce(sa.func.sum(scores.c.clv), 0.0))
                        .group_by(scores.c.run_id, scores.c.segment))
    for run_id, segment, n, clv in rows:
        totals.setdefault(run_id, {})[segment] = [int(n), float(clv)]
    for run_id, segments in totals.items():
        bind.execute(runs.update().where(runs.c.id == run_id).values(segments=segments))


def downgrade() -> None:
    op.drop_index('ix_customer_scores_run_clv', table_name='customer_scores')
    with op.batch_alter_table('score_runs', schema=None) as batch_op:
        batch_op.drop_column('segments')
