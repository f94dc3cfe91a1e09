"""Initial schema: the shared infrastructure tables and the service's own.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 20:26:36.803037
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
    op.create_table('inbox',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id'),
    sa.UniqueConstraint('seq')
    )
    op.create_index('inbox_member', 'inbox', ['member_id', sa.literal_column('seq DESC')], unique=False)


def downgrade() -> None:
    op.drop_index('inbox_member', table_name='inbox')
    op.drop_table('inbox')
    drop_infrastructure(op)
