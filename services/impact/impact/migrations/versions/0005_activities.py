"""Providers' attested activities: kind, the city's priorities it counts for, quantity, by day.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("activity_id", sa.Text(), primary_key=True),
        sa.Column("pseudonym", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("priorities", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("quantity", sa.Numeric(10, 3), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("voided", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index("ix_activities_pseudonym", "activities", ["pseudonym"])
    op.create_index("activities_by_day", "activities", ["day", "kind", "pseudonym"],
                    postgresql_where=sa.text("NOT voided"))


def downgrade() -> None:
    op.drop_table("activities")
