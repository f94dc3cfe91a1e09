"""Initial schema: the shared infrastructure tables and the service's own.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 20:26:36.359717
"""
import sqlalchemy as sa
from alembic import op

from rewards_shared.db import create_outbox_trigger, drop_outbox_trigger

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('principal', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('request_hash', sa.Text(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('principal', 'key')
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=True),
    sa.Column('event_type', sa.Text(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('headers', sa.JSON(), server_default='{}', nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_index('outbox_pending', 'outbox', ['id'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_table('processed_events',
    sa.Column('consumer', sa.Text(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('event_type', sa.Text(), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'event_id')
    )
    op.create_table('revoked_credentials',
    sa.Column('jti', sa.Text(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti')
    )
    op.create_table('accounts',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=True),
    sa.Column('debits_pending', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('debits_posted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('credits_pending', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('credits_posted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('debits_must_not_exceed_credits', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted', name='accounts_not_overdrawn'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_accounts_member_id'), 'accounts', ['member_id'], unique=False)
    op.create_table('members',
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('tier', sa.Text(), server_default='bronze', nullable=False),
    sa.Column('lifetime_earned', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('member_id')
    )
    op.create_table('transfers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('debit_account_id', sa.Text(), nullable=False),
    sa.Column('credit_account_id', sa.Text(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('pending', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('pending_id', sa.Uuid(), nullable=True),
    sa.Column('timeout_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('member_id', sa.Text(), nullable=True),
    sa.Column('source_type', sa.Text(), nullable=True),
    sa.Column('source_id', sa.Text(), nullable=True),
    sa.Column('rule_id', sa.Text(), nullable=True),
    sa.Column('rule_version', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount > 0', name='transfers_amount_positive'),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name='transfers_distinct_accounts'),
    sa.ForeignKeyConstraint(['credit_account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['debit_account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['pending_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pending_id'),
    sa.UniqueConstraint('seq')
    )
    op.create_index('transfers_member_history', 'transfers', ['member_id', sa.literal_column('seq DESC')], unique=False)
    create_outbox_trigger(op)
    op.execute("""
        INSERT INTO accounts (id, kind) VALUES
          ('system:issuance', 'system'), ('system:redemptions', 'system'),
          ('system:breakage', 'system'), ('system:donations', 'system')
    """)


def downgrade() -> None:
    drop_outbox_trigger(op)
    op.drop_index('transfers_member_history', table_name='transfers')
    op.drop_table('transfers')
    op.drop_table('members')
    op.drop_index(op.f('ix_accounts_member_id'), table_name='accounts')
    op.drop_table('accounts')
    op.drop_table('revoked_credentials')
    op.drop_table('processed_events')
    op.drop_index('outbox_pending', table_name='outbox', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('outbox')
    op.drop_table('idempotency_keys')
