"""Privacy: tombstones of erased members, credential use, and redemptions that outlive their member's id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from rewards_shared.db import create_credential_use
from rewards_shared.erasure import create_tombstone_table

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_credential_use(op)
    create_tombstone_table(op)
    op.alter_column("redemptions", "member_id", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM redemptions WHERE member_id IS NULL")
    op.alter_column("redemptions", "member_id", existing_type=sa.Text(), nullable=False)
    op.drop_table("erased_members")
    op.drop_table("credential_use")
