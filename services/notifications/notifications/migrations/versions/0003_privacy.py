"""Privacy: tombstones keep a keyed marker of an erased member's id instead of the id; credential use.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from rewards_shared.config import Settings
from rewards_shared.db import create_credential_use
from rewards_shared.erasure import Tombstones, create_tombstone_table

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_credential_use(op)
    op.rename_table("erased_members", "erased_member_ids")
    op.execute("ALTER INDEX erased_members_pkey RENAME TO erased_member_ids_pkey")
    create_tombstone_table(op)
    tombstones = Tombstones.from_settings(sa.table("erased_members"), Settings.from_env("notifications"))
    connection = op.get_bind()
    erased = connection.execute(sa.text("SELECT member_id, erased_at FROM erased_member_ids")).all()
    if erased:
        connection.execute(sa.text("INSERT INTO erased_members (marker, erased_at) VALUES (:marker, :erased_at)"),
                           [{"marker": tombstones.marker(row.member_id), "erased_at": row.erased_at}
                            for row in erased])
    op.drop_table("erased_member_ids")


def downgrade() -> None:
    op.drop_table("erased_members")
    op.create_table(
        "erased_members",
        sa.Column("member_id", sa.Text(), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.drop_table("credential_use")
