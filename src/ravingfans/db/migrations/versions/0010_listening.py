"""listening: stored themes of the open answers (stable ids across re-runs) and each answer's reading

``feedback_themes`` keeps every theme ever found, keyed by the analytics' id ("T1", "T2", ...), with the
reference (keyword weights, optional embedding centroid) that lets the next analysis give a theme the
same id; a theme not found again is marked retired, never deleted. ``answer_insights`` holds, per
survey response, the sentiment, theme, request and "said nothing" flag of its open answers, so pages
read them and never analyse (or write) on a GET.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ravingfans.db.types

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feedback_themes',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('quotes', sa.JSON(), nullable=False),
    sa.Column('ref', sa.JSON(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('mean_sentiment', sa.Float(), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('first_seen_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_themes'))
    )
    op.create_table('answer_insights',
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('sentiment', sa.Float(), nullable=False),
    sa.Column('sentiment_label', sa.String(length=10), nullable=False),
    sa.Column('theme_id', sa.String(length=20), nullable=True),
    sa.Column('is_request', sa.Boolean(), nullable=False),
    sa.Column('request_text', sa.Text(), nullable=True),
    sa.Column('is_empty', sa.Boolean(), nullable=False),
    sa.Column('analysed_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['survey_responses.id'],
                            name=op.f('fk_answer_insights_response_id_survey_responses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['theme_id'], ['feedback_themes.id'],
                            name=op.f('fk_answer_insights_theme_id_feedback_themes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('response_id', name=op.f('pk_answer_insights'))
    )
    op.create_index(op.f('ix_answer_insights_theme_id'), 'answer_insights', ['theme_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_answer_insights_theme_id'), table_name='answer_insights')
    op.drop_table('answer_insights')
    op.drop_table('feedback_themes')
