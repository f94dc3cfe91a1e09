"""When each credential was last used here.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from alembic import op

from rewards_shared.db import create_credential_use

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_credential_use(op)


def downgrade() -> None:
    op.drop_table("credential_use")
