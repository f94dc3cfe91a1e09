"""Partners, rewards and redemptions, and the notification that wakes long-polling readers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 20:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

STATUSES = "('pending', 'issued', 'rejected', 'redeemed', 'expired', 'cancelled')"

_NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION redemption_status_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('redemption_status', NEW.id::text);
  RETURN NULL;
END $$;
"""
_NOTIFY_TRIGGER = """
CREATE TRIGGER redemption_status_notify AFTER UPDATE OF status ON redemptions
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION redemption_status_notify();
"""


def _timestamps():
    return [
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('partners',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('contact_email', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    *_timestamps(),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('rewards',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('partner_id', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('cost_points', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('per_member_limit', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voucher_valid_days', sa.Integer(), server_default='14', nullable=False),
    sa.Column('funded_by', sa.Text(), nullable=False),
    sa.Column('settlement_pence', sa.Integer(), server_default='0', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    *_timestamps(),
    sa.CheckConstraint('cost_points > 0', name='rewards_cost_positive'),
    sa.CheckConstraint('stock >= 0', name='rewards_stock_not_negative'),
    sa.CheckConstraint('per_member_limit IS NULL OR per_member_limit > 0', name='rewards_limit_positive'),
    sa.CheckConstraint("funded_by IN ('partner', 'council')", name='rewards_funded_by_known'),
    sa.CheckConstraint('settlement_pence >= 0', name='rewards_settlement_not_negative'),
    sa.CheckConstraint('valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from',
                       name='rewards_window_ordered'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_rewards_partner_id', 'rewards', ['partner_id'])
    op.create_table('redemptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('reward_id', sa.Text(), nullable=False),
    sa.Column('partner_id', sa.Text(), nullable=False),
    sa.Column('reward_title', sa.Text(), nullable=False),
    sa.Column('cost_points', sa.Integer(), nullable=False),
    sa.Column('funded_by', sa.Text(), nullable=False),
    sa.Column('settlement_pence', sa.Integer(), nullable=False),
    sa.Column('voucher_valid_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('voucher_hash', sa.Text(), nullable=True),
    sa.Column('hold_transfer_id', sa.Text(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('redeemed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('redeemed_by', sa.Text(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint(f'status IN {STATUSES}', name='redemptions_status_known'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id']),
    sa.ForeignKeyConstraint(['reward_id'], ['rewards.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('voucher_hash')
    )
    op.create_index('redemptions_member_reward', 'redemptions', ['member_id', 'reward_id'])
    op.create_index('redemptions_member_history', 'redemptions',
                    ['member_id', sa.text('requested_at DESC'), 'id'])
    op.create_index('redemptions_due_expiry', 'redemptions', ['expires_at'],
                    postgresql_where=sa.text("status = 'issued'"))
    op.create_index('redemptions_unanswered', 'redemptions', ['requested_at'],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index('redemptions_settlement', 'redemptions', ['partner_id', 'redeemed_at'],
                    postgresql_where=sa.text("status = 'redeemed'"))
    op.execute(_NOTIFY_FUNCTION)
    op.execute(_NOTIFY_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS redemption_status_notify ON redemptions")
    op.execute("DROP FUNCTION IF EXISTS redemption_status_notify()")
    op.drop_table('redemptions')
    op.drop_table('rewards')
    op.drop_table('partners')
