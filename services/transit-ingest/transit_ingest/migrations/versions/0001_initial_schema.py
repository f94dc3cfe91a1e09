"""Initial schema: the shared infrastructure tables and the service's own.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 20:26:36.526736
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
    op.create_table('card_links',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('operator_id', sa.Text(), nullable=False),
    sa.Column('card_hash', sa.LargeBinary(), nullable=False),
    sa.Column('card_hint', sa.Text(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('unlinked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('card_links_active', 'card_links', ['operator_id', 'card_hash'], unique=True, postgresql_where=sa.text('unlinked_at IS NULL'))
    op.create_index(op.f('ix_card_links_member_id'), 'card_links', ['member_id'], unique=False)
    op.create_table('journeys',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('operator_id', sa.Text(), nullable=False),
    sa.Column('card_hash', sa.LargeBinary(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='completed', nullable=False),
    sa.Column('mode', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('route_id', sa.Text(), nullable=True),
    sa.Column('origin_stop_id', sa.Text(), nullable=True),
    sa.Column('destination_stop_id', sa.Text(), nullable=True),
    sa.Column('distance_km', sa.Float(), nullable=True),
    sa.Column('announced_revision', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_journeys_member_id'), 'journeys', ['member_id'], unique=False)
    op.create_index('journeys_card', 'journeys', ['operator_id', 'card_hash', 'started_at'], unique=False)
    op.create_table('taps',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('operator_id', sa.Text(), nullable=False),
    sa.Column('tap_id', sa.Text(), nullable=False),
    sa.Column('card_hash', sa.LargeBinary(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('mode', sa.Text(), nullable=False),
    sa.Column('route_id', sa.Text(), nullable=True),
    sa.Column('stop_id', sa.Text(), nullable=True),
    sa.Column('direction', sa.Text(), nullable=True),
    sa.Column('vehicle_id', sa.Text(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('journey_id', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('operator_id', 'tap_id', name='taps_operator_tap')
    )
    op.create_index('taps_card_time', 'taps', ['operator_id', 'card_hash', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('taps_card_time', table_name='taps')
    op.drop_table('taps')
    op.drop_index('journeys_card', table_name='journeys')
    op.drop_index(op.f('ix_journeys_member_id'), table_name='journeys')
    op.drop_table('journeys')
    op.drop_index(op.f('ix_card_links_member_id'), table_name='card_links')
    op.drop_index('card_links_active', table_name='card_links', postgresql_where=sa.text('unlinked_at IS NULL'))
    op.drop_table('card_links')
    drop_infrastructure(op)
