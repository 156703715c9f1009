"""outgoing e-mail: the outbox, the suppression list and unsubscribe tokens

``mail_outbox`` holds each message rendered when it was queued (in the transaction of the business
event that caused it), unique per ``key`` so the same event never queues twice; ``ravingfans outbox
send`` drains it (see ravingfans.mail). ``mail_suppressions`` keeps SHA-256 digests of addresses that
unsubscribed or hard-bounced; ``mail_unsubscribe_tokens`` the SHA-256 of each unsubscribe link's secret.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ravingfans.db.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mail_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_mail_outbox_customer_id_customers'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox')),
    sa.UniqueConstraint('key', name=op.f('uq_mail_outbox_key'))
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_outbox_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_mail_outbox_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('mail_suppressions',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('created_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_mail_suppressions'))
    )
    op.create_table('mail_unsubscribe_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('address_digest', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('created_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_mail_unsubscribe_tokens_customer_id_customers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_mail_unsubscribe_tokens'))
    )
    with op.batch_alter_table('mail_unsubscribe_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_unsubscribe_tokens_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mail_unsubscribe_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_unsubscribe_tokens_customer_id'))
    op.drop_table('mail_unsubscribe_tokens')
    op.drop_table('mail_suppressions')
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_outbox_due')
        batch_op.drop_index(batch_op.f('ix_mail_outbox_customer_id'))
    op.drop_table('mail_outbox')
