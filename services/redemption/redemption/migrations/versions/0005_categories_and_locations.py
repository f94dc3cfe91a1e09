"""The catalogue by category, and where each partner's vouchers can be used.

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
    op.add_column("rewards", sa.Column("category", sa.Text()))
    op.create_index("rewards_category", "rewards", ["category", "id"])
    op.create_table(
        "partner_locations",
        sa.Column("partner_id", sa.Text(), sa.ForeignKey("partners.id"), primary_key=True),
        sa.Column("location_id", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text()),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180",
                           name="partner_locations_on_earth"),
    )


def downgrade() -> None:
    op.drop_table("partner_locations")
    op.drop_index("rewards_category", table_name="rewards")
    op.drop_column("rewards", "category")
