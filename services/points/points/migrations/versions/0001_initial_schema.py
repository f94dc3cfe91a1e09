"""Initial schema: the shared infrastructure tables and the service's own.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 20:26:36.359717
"""
import sqlalchemy as sa
from alembic import op

from rewards_shared.db import create_infrastructure, drop_infrastructure

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_infrastructure(op)
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
    op.execute("""
        INSERT INTO accounts (id, kind) VALUES
          ('system:issuance', 'system'), ('system:redemptions', 'system'),
          ('system:breakage', 'system'), ('system:donations', 'system')
    """)


def downgrade() -> None:
    op.drop_index('transfers_member_history', table_name='transfers')
    op.drop_table('transfers')
    op.drop_table('members')
    op.drop_index(op.f('ix_accounts_member_id'), table_name='accounts')
    op.drop_table('accounts')
    drop_infrastructure(op)
