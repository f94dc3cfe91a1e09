"""Contacts, preferences, erased members and the deliveries outbox; an unread index on the inbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contacts',
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('push_tokens', postgresql.JSONB(), server_default='[]', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('member_id')
    )
    op.create_table('preferences',
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('document', postgresql.JSONB(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('member_id')
    )
    op.create_table('erased_members',
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('member_id')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('dedupe_key', sa.Text(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('channel', sa.Text(), nullable=False),
    sa.Column('target', sa.Text(), nullable=True),
    sa.Column('locale', sa.Text(), nullable=False),
    sa.Column('context', postgresql.JSONB(), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('provider_id', sa.Text(), nullable=True),
    sa.Column('digest_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key'),
    sa.UniqueConstraint('seq')
    )
    op.create_index('deliveries_due', 'deliveries', ['channel', 'next_attempt_at'], unique=False,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index('deliveries_held', 'deliveries', ['not_before'], unique=False,
                    postgresql_where=sa.text("status = 'held'"))
    op.create_index('deliveries_member', 'deliveries', ['member_id', sa.literal_column('seq DESC')], unique=False)
    op.create_index('deliveries_status', 'deliveries', ['status', sa.literal_column('seq DESC')], unique=False)
    op.create_index('inbox_unread', 'inbox', ['member_id'], unique=False, postgresql_where=sa.text('read_at IS NULL'))


def downgrade() -> None:
    op.drop_index('inbox_unread', table_name='inbox', postgresql_where=sa.text('read_at IS NULL'))
    op.drop_index('deliveries_status', table_name='deliveries')
    op.drop_index('deliveries_member', table_name='deliveries')
    op.drop_index('deliveries_held', table_name='deliveries', postgresql_where=sa.text("status = 'held'"))
    op.drop_index('deliveries_due', table_name='deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('deliveries')
    op.drop_table('erased_members')
    op.drop_table('preferences')
    op.drop_table('contacts')
