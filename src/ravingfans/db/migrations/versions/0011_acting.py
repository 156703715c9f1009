"""acting: follow-up rules and tasks, gifts and campaigns with hold-outs, back-in-stock waits and holds,
mentions, and the worker's job schedule

Every table that a rule, a restock or a worker could write twice has a unique key that makes the second
write a no-op: ``tasks.dedupe_key``, ``campaign_members (campaign_id, customer_id)``, ``holds (restock_id,
customer_id)``; the worker claims ``scheduled_jobs`` rows with a lease.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 17:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ravingfans.db.types

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

UTC = ravingfans.db.types.UTCDateTime
MONEY = ravingfans.db.types.Money


def upgrade() -> None:
    op.create_table('follow_up_rules',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('updated_at', UTC(timezone=True), nullable=False),
    sa.Column('last_evaluated_at', UTC(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_follow_up_rules'))
    )
    op.create_table('gifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=True),
    sa.Column('value', MONEY(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gifts')),
    sa.UniqueConstraint('name', name=op.f('uq_gifts_name'))
    )
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('gift_id', sa.Integer(), nullable=True),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('holdout_share', sa.Float(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('delivery', sa.String(length=10), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('started_at', UTC(timezone=True), nullable=True),
    sa.Column('ends_at', UTC(timezone=True), nullable=True),
    sa.Column('closed_at', UTC(timezone=True), nullable=True),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['gift_id'], ['gifts.id'], name=op.f('fk_campaigns_gift_id_gifts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('name', name=op.f('uq_campaigns_name'))
    )
    op.create_table('campaign_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('group', sa.String(length=10), nullable=False),
    sa.Column('assigned_at', UTC(timezone=True), nullable=False),
    sa.Column('delivered_at', UTC(timezone=True), nullable=True),
    sa.Column('delivery_note', sa.Text(), nullable=False),
    sa.Column('redeemed_at', UTC(timezone=True), nullable=True),
    sa.Column('redeemed_order_id', sa.Integer(), nullable=True),
    sa.Column('value_at_start', MONEY(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'],
                            name=op.f('fk_campaign_members_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_campaign_members_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['redeemed_order_id'], ['orders.id'],
                            name=op.f('fk_campaign_members_redeemed_order_id_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_members')),
    sa.UniqueConstraint('campaign_id', 'customer_id', name=op.f('uq_campaign_members_campaign_id_customer_id'))
    )
    op.create_index('ix_campaign_members_campaign_group', 'campaign_members', ['campaign_id', 'group'], unique=False)
    op.create_index(op.f('ix_campaign_members_customer_id'), 'campaign_members', ['customer_id'], unique=False)
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('script', sa.Text(), nullable=False),
    sa.Column('owner_employee_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('priority', MONEY(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('snoozed_until', sa.Date(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('interaction_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('done_at', UTC(timezone=True), nullable=True),
    sa.Column('done_by', sa.Integer(), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_tasks_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_employee_id'], ['employees.id'],
                            name=op.f('fk_tasks_owner_employee_id_employees'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_tasks_campaign_id_campaigns'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['interaction_id'], ['interactions.id'],
                            name=op.f('fk_tasks_interaction_id_interactions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['done_by'], ['users.id'], name=op.f('fk_tasks_done_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_tasks_dedupe_key'))
    )
    op.create_index(op.f('ix_tasks_customer_id'), 'tasks', ['customer_id'], unique=False)
    op.create_index(op.f('ix_tasks_owner_employee_id'), 'tasks', ['owner_employee_id'], unique=False)
    op.create_index(op.f('ix_tasks_campaign_id'), 'tasks', ['campaign_id'], unique=False)
    op.create_index('ix_tasks_status_due', 'tasks', ['status', 'due_on'], unique=False)
    op.create_table('scheduled_jobs',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('next_run_at', UTC(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', UTC(timezone=True), nullable=True),
    sa.Column('last_started_at', UTC(timezone=True), nullable=True),
    sa.Column('last_finished_at', UTC(timezone=True), nullable=True),
    sa.Column('last_status', sa.String(length=12), nullable=True),
    sa.Column('last_summary', sa.Text(), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduled_jobs'))
    )
    op.create_table('restocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('stock_before', sa.Integer(), nullable=False),
    sa.Column('stock_after', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('at', UTC(timezone=True), nullable=False),
    sa.Column('fanned_out_at', UTC(timezone=True), nullable=True),
    sa.Column('notified', sa.Integer(), nullable=False),
    sa.Column('held', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'],
                            name=op.f('fk_restocks_variant_id_product_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_restocks'))
    )
    op.create_index(op.f('ix_restocks_variant_id'), 'restocks', ['variant_id'], unique=False)
    op.create_table('stock_waits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('want_hold', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('notified_at', UTC(timezone=True), nullable=True),
    sa.Column('notified_restock_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', UTC(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_stock_waits_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'],
                            name=op.f('fk_stock_waits_variant_id_product_variants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notified_restock_id'], ['restocks.id'],
                            name=op.f('fk_stock_waits_notified_restock_id_restocks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_waits'))
    )
    op.create_index(op.f('ix_stock_waits_customer_id'), 'stock_waits', ['customer_id'], unique=False)
    op.create_index('ix_stock_waits_variant_open', 'stock_waits', ['variant_id', 'closed_at'], unique=False)
    op.create_table('holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('restock_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('expires_at', UTC(timezone=True), nullable=False),
    sa.Column('released_at', UTC(timezone=True), nullable=True),
    sa.Column('release_reason', sa.String(length=12), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_holds_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'],
                            name=op.f('fk_holds_variant_id_product_variants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['restock_id'], ['restocks.id'], name=op.f('fk_holds_restock_id_restocks'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holds')),
    sa.UniqueConstraint('restock_id', 'customer_id', name=op.f('uq_holds_restock_id_customer_id'))
    )
    op.create_index(op.f('ix_holds_customer_id'), 'holds', ['customer_id'], unique=False)
    op.create_index(op.f('ix_holds_variant_id'), 'holds', ['variant_id'], unique=False)
    op.create_index('ix_holds_open', 'holds', ['released_at', 'expires_at'], unique=False)
    op.create_table('mentions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('where', sa.String(length=120), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('sentiment', sa.SmallInteger(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', UTC(timezone=True), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_mentions_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_mentions_employee_id_employees'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentions'))
    )
    op.create_index('ix_mentions_customer_at', 'mentions', ['customer_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_mentions_customer_at', table_name='mentions')
    op.drop_table('mentions')
    for name in ('ix_holds_open', op.f('ix_holds_variant_id'), op.f('ix_holds_customer_id')):
        op.drop_index(name, table_name='holds')
    op.drop_table('holds')
    op.drop_index('ix_stock_waits_variant_open', table_name='stock_waits')
    op.drop_index(op.f('ix_stock_waits_customer_id'), table_name='stock_waits')
    op.drop_table('stock_waits')
    op.drop_index(op.f('ix_restocks_variant_id'), table_name='restocks')
    op.drop_table('restocks')
    op.drop_table('scheduled_jobs')
    for name in ('ix_tasks_status_due', op.f('ix_tasks_campaign_id'), op.f('ix_tasks_owner_employee_id'),
                 op.f('ix_tasks_customer_id')):
        op.drop_index(name, table_name='tasks')
    op.drop_table('tasks')
    op.drop_index(op.f('ix_campaign_members_customer_id'), table_name='campaign_members')
    op.drop_index('ix_campaign_members_campaign_group', table_name='campaign_members')
    op.drop_table('campaign_members')
    op.drop_table('campaigns')
    op.drop_table('gifts')
    op.drop_table('follow_up_rules')
