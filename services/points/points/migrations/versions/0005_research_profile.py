"""The member's research profile: home postcode district, usual travel mode before joining, and consent.

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
    op.add_column("members", sa.Column("home_area", sa.Text()))
    op.add_column("members", sa.Column("usual_mode", sa.Text()))
    op.add_column("members", sa.Column("research_consent", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("members", sa.Column("profile_updated_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for column in ("profile_updated_at", "research_consent", "usual_mode", "home_area"):
        op.drop_column("members", column)
