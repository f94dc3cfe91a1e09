"""Outbox states: pending, sent or failed after its last attempt, with retry times; sent rows purged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from alembic import op

from rewards_shared.db import add_outbox_states, drop_outbox_states

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_states(op)


def downgrade() -> None:
    drop_outbox_states(op)
