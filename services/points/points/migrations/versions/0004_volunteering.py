"""Volunteering: opportunities (organiser, window, optional geofence, minimum duration, auto-confirm)
and attendances (check-in → check-out → confirmed or rejected), at most one open check-in per member.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('opportunities',
    sa.Column('opportunity_id', sa.Text(), nullable=False),
    sa.Column('organiser_id', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('radius_m', sa.Integer(), nullable=True),
    sa.Column('min_minutes', sa.Integer(), server_default='30', nullable=False),
    sa.Column('auto_confirm', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL) AND (latitude IS NULL) = (radius_m IS NULL)', name='opportunities_geofence_complete'),
    sa.CheckConstraint('ends_at > starts_at', name='opportunities_window_ordered'),
    sa.PrimaryKeyConstraint('opportunity_id')
    )
    op.create_table('attendances',
    sa.Column('attendance_id', sa.Text(), nullable=False),
    sa.Column('opportunity_id', sa.Text(), nullable=False),
    sa.Column('organiser_id', sa.Text(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('confirmed_minutes', sa.Integer(), nullable=True),
    sa.Column('pending_points', sa.Integer(), server_default='0', nullable=False),
    sa.Column('check_in_distance_m', sa.Integer(), nullable=True),
    sa.Column('check_out_distance_m', sa.Integer(), nullable=True),
    sa.Column('decided_by', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('checked_in', 'awaiting_confirmation', 'confirmed', 'rejected', 'abandoned')", name='attendances_status_known'),
    sa.CheckConstraint('checked_out_at IS NULL OR checked_out_at > checked_in_at', name='attendances_out_after_in'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.opportunity_id'], ),
    sa.PrimaryKeyConstraint('attendance_id')
    )
    op.create_index('attendances_member_recent', 'attendances', ['member_id', sa.literal_column('checked_in_at DESC')], unique=False)
    op.create_index('attendances_one_open_per_member', 'attendances', ['member_id'], unique=True, postgresql_where=sa.text("status = 'checked_in'"))
    op.create_index('attendances_opportunity', 'attendances', ['opportunity_id', 'checked_in_at'], unique=False)
    op.create_index('attendances_organiser_queue', 'attendances', ['organiser_id', 'status', 'checked_in_at', 'attendance_id'], unique=False)


def downgrade() -> None:
    op.drop_index('attendances_organiser_queue', table_name='attendances')
    op.drop_index('attendances_opportunity', table_name='attendances')
    op.drop_index('attendances_one_open_per_member', table_name='attendances', postgresql_where=sa.text("status = 'checked_in'"))
    op.drop_index('attendances_member_recent', table_name='attendances')
    op.drop_table('attendances')
    op.drop_table('opportunities')
