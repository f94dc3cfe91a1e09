"""Ledger lots (FIFO expiry), earnings per activity revision, versioned rules, community groups;
transfers record when the activity happened and why they were worth what they were.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 20:38:53.678083
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('community_groups',
    sa.Column('group_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('group_id')
    )
    op.create_table('rules',
    sa.Column('rule_id', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('effective_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('rule_id', 'version')
    )
    op.create_table('earnings',
    sa.Column('source_type', sa.Text(), nullable=False),
    sa.Column('source_id', sa.Text(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('transfer_id', sa.Uuid(), nullable=True),
    sa.Column('points', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('source_type', 'source_id')
    )
    op.create_index('earnings_member_day', 'earnings', ['member_id', 'source_type', 'occurred_at'], unique=False)
    op.create_table('lots',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('transfer_id', sa.Uuid(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('earned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('remaining >= 0 AND remaining <= points', name='lots_remaining_in_range'),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('transfer_id')
    )
    op.create_index('lots_expiry', 'lots', ['expires_at'], unique=False, postgresql_where=sa.text('remaining > 0'))
    op.create_index('lots_member_fifo', 'lots', ['member_id', 'expires_at', 'id'], unique=False, postgresql_where=sa.text('remaining > 0'))
    op.add_column('transfers', sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('transfers', sa.Column('details', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('transfers', 'details')
    op.drop_column('transfers', 'occurred_at')
    op.drop_index('lots_member_fifo', table_name='lots', postgresql_where=sa.text('remaining > 0'))
    op.drop_index('lots_expiry', table_name='lots', postgresql_where=sa.text('remaining > 0'))
    op.drop_table('lots')
    op.drop_index('earnings_member_day', table_name='earnings')
    op.drop_table('earnings')
    op.drop_table('rules')
    op.drop_table('community_groups')
