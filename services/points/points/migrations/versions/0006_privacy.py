"""Privacy: tombstones of erased members, credential use, subject access exports, and transfers that
follow their account when an erased member's accounts are renamed to a pseudonym.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rewards_shared.db import create_credential_use
from rewards_shared.erasure import create_tombstone_table

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_ACCOUNT_KEYS = ("debit_account_id", "credit_account_id")


def _account_keys(onupdate: str | None) -> None:
    for column in _ACCOUNT_KEYS:
        name = f"transfers_{column}_fkey"
        op.drop_constraint(name, "transfers", type_="foreignkey")
        op.create_foreign_key(name, "transfers", "accounts", [column], ["id"], onupdate=onupdate)


def upgrade() -> None:
    create_credential_use(op)
    create_tombstone_table(op)
    _account_keys("CASCADE")
    op.create_table(
        "exports",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("private_key", sa.LargeBinary()),
        sa.Column("document", postgresql.JSONB()),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'done')", name="exports_status_known"),
    )
    op.create_index(op.f("ix_exports_member_id"), "exports", ["member_id"])
    op.create_index(op.f("ix_exports_expires_at"), "exports", ["expires_at"])
    op.create_table(
        "export_pieces",
        sa.Column("export_id", sa.Uuid(), sa.ForeignKey("exports.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("service", sa.Text(), primary_key=True),
        sa.Column("piece", sa.Integer(), primary_key=True),
        sa.Column("pieces", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("export_pieces")
    op.drop_table("exports")
    _account_keys(None)
    op.drop_table("erased_members")
    op.drop_table("credential_use")
