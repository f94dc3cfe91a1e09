"""Outbox states: pending, sent or failed after its last attempt, with retry times; sent rows purged.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from alembic import op

from rewards_shared.db import add_outbox_states, drop_outbox_states

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_states(op)


def downgrade() -> None:
    drop_outbox_states(op)
