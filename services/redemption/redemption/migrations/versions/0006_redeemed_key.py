"""The till's Idempotency-Key kept with the voucher it redeemed, so the till's retry after a lost answer is
told the voucher is its own, not "already used".

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("redemptions", sa.Column("redeemed_key", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("redemptions", "redeemed_key")
