"""Challenges and streaks: definitions, each member's progress and the activities that counted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "challenges",
        sa.Column("challenge_id", sa.Text(), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("activity", sa.Text(), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("target", sa.Integer()),
        sa.Column("period", sa.Text()),
        sa.Column("periods", sa.Integer()),
        sa.Column("min_per_period", sa.Integer()),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bonus_points", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="challenges_window_ordered"),
        sa.CheckConstraint("kind IN ('count', 'streak')", name="challenges_kind_known"),
    )
    op.create_index("challenges_live", "challenges", ["activity", "starts_at", "ends_at"],
                    postgresql_where=sa.text("active"))
    op.create_table(
        "challenge_progress",
        sa.Column("challenge_id", sa.Text(), sa.ForeignKey("challenges.challenge_id"), primary_key=True),
        sa.Column("member_id", sa.Text(), primary_key=True),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("bonus_transfer_id", sa.Uuid(), sa.ForeignKey("transfers.id")),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("challenge_progress_member", "challenge_progress", ["member_id"])
    op.create_table(
        "challenge_activities",
        sa.Column("challenge_id", sa.Text(), sa.ForeignKey("challenges.challenge_id"), primary_key=True),
        sa.Column("member_id", sa.Text(), primary_key=True),
        sa.Column("activity_id", sa.Text(), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("challenge_activities")
    op.drop_table("challenge_progress")
    op.drop_table("challenges")
