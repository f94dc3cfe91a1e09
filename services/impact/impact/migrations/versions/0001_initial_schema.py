"""Initial schema: the shared infrastructure tables and the service's own.

Revision ID: 0001
Revises:
Create Date: 2026-12-02 16:50:00
"""
from alembic import op

from rewards_shared.db import create_infrastructure, drop_infrastructure

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_infrastructure(op)


def downgrade() -> None:
    drop_infrastructure(op)
