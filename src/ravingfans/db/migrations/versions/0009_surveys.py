"""surveys: questions, invitations with hashed personal links, responses; the default survey out of the box

A survey has ordered questions (nps, csat, text, rank, yesno). Each customer is invited at most once
per survey (``survey_invitations``); each invitation has one or more personal links whose tokens are
kept only as SHA-256 (``survey_links``; a reminder adds a fresh link, the first keeps working until it
expires). ``survey_responses`` holds one customer's answers per survey, replaced while it is open.

The default survey with the program's two questions ("How are we doing?" on a 0-10 scale and "How can
we do better?") is inserted open, so a manager can send it at once; its texts are the English message
ids of ``locale/*/LC_MESSAGES/surveys.po``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import ravingfans.db.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

DEFAULT_TITLE = "How are we doing?"
DEFAULT_QUESTIONS = (
    (1, "nps", "How are we doing?", True),
    (2, "text", "How can we do better?", False),
)


def upgrade() -> None:
    surveys = op.create_table('surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('closes_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys')),
    sa.UniqueConstraint('key', name=op.f('uq_surveys_key'))
    )
    questions = op.create_table('survey_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_questions_survey_id_surveys'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_questions')),
    sa.UniqueConstraint('survey_id', 'position', name=op.f('uq_survey_questions_survey_id_position'))
    )
    op.create_table('survey_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('sent_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_survey_invitations_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by'], ['users.id'], name=op.f('fk_survey_invitations_sent_by_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_invitations_survey_id_surveys'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_invitations')),
    sa.UniqueConstraint('survey_id', 'customer_id', name=op.f('uq_survey_invitations_survey_id_customer_id'))
    )
    op.create_index('ix_survey_invitations_customer_sent', 'survey_invitations', ['customer_id', 'sent_at'],
                    unique=False)
    op.create_table('survey_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('created_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['survey_invitations.id'],
                            name=op.f('fk_survey_links_invitation_id_survey_invitations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_survey_links'))
    )
    op.create_index(op.f('ix_survey_links_invitation_id'), 'survey_links', ['invitation_id'], unique=False)
    op.create_table('survey_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('nps', sa.SmallInteger(), nullable=True),
    sa.Column('employee_id', sa.Integer(), nullable=True),
    sa.Column('segment', sa.String(length=40), nullable=True),
    sa.Column('entered_by', sa.Integer(), nullable=True),
    sa.Column('first_submitted_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_survey_responses_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'],
                            name=op.f('fk_survey_responses_employee_id_employees'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entered_by'], ['users.id'], name=op.f('fk_survey_responses_entered_by_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invitation_id'], ['survey_invitations.id'],
                            name=op.f('fk_survey_responses_invitation_id_survey_invitations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_responses_survey_id_surveys'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_responses')),
    sa.UniqueConstraint('survey_id', 'customer_id', name=op.f('uq_survey_responses_survey_id_customer_id'))
    )
    op.create_index(op.f('ix_survey_responses_customer_id'), 'survey_responses', ['customer_id'], unique=False)
    op.create_index(op.f('ix_survey_responses_employee_id'), 'survey_responses', ['employee_id'], unique=False)
    op.create_index('ix_survey_responses_survey_submitted', 'survey_responses', ['survey_id', 'submitted_at'],
                    unique=False)

    now = datetime.now(UTC)
    op.bulk_insert(surveys, [{"id": 1, "key": "default", "name": DEFAULT_TITLE, "title": DEFAULT_TITLE,
                              "status": "open", "closes_at": None, "created_at": now, "updated_at": now}])
    op.bulk_insert(questions, [{"survey_id": 1, "position": position, "kind": kind, "prompt": prompt,
                                "required": required, "options": []}
                               for position, kind, prompt, required in DEFAULT_QUESTIONS])
    if op.get_bind().dialect.name == "postgresql":  # the explicit id 1 leaves the sequence behind
        op.execute("SELECT setval(pg_get_serial_sequence('surveys', 'id'), (SELECT max(id) FROM surveys))")


def downgrade() -> None:
    op.drop_index('ix_survey_responses_survey_submitted', table_name='survey_responses')
    op.drop_index(op.f('ix_survey_responses_employee_id'), table_name='survey_responses')
    op.drop_index(op.f('ix_survey_responses_customer_id'), table_name='survey_responses')
    op.drop_table('survey_responses')
    op.drop_index(op.f('ix_survey_links_invitation_id'), table_name='survey_links')
    op.drop_table('survey_links')
    op.drop_index('ix_survey_invitations_customer_sent', table_name='survey_invitations')
    op.drop_table('survey_invitations')
    op.drop_table('survey_questions')
    op.drop_table('surveys')
