"""accounts: users who sign in and their API tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:19:47.350453
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ravingfans.db.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('owner', 'manager', 'staff')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', ravingfans.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
