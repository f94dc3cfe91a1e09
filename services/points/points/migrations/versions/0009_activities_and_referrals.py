"""Activity providers, the activities they attest and the memberships that name members; referral codes and
referrals; default rules for both: what each kind of activity earns, its caps, and the referral bonus.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

rules = sa.table("rules", sa.column("rule_id", sa.Text), sa.column("version", sa.Integer),
                 sa.column("kind", sa.Text), sa.column("effective_from", sa.DateTime(timezone=True)),
                 sa.column("definition", sa.JSON), sa.column("created_by", sa.Text))

LONDON = "Europe/London"
DEFAULT_RULES = [
    ("activity-by-kind", "activity", {"kinds": {
        "leisure.visit": {"points": 20, "per": "activity", "max_units": None},
        "cycle.trip": {"points": 2, "per": "unit", "max_units": 20.0},
        "recycling.visit": {"points": 15, "per": "activity", "max_units": None},
        "home.energy_check": {"points": 100, "per": "activity", "max_units": None},
        "library.visit": {"points": 10, "per": "activity", "max_units": None}}}),
    ("leisure-daily-cap", "cap", {"activity": "activity", "kind": "leisure.visit", "per_day": 1, "per_week": None,
                                  "timezone": LONDON}),
    ("library-daily-cap", "cap", {"activity": "activity", "kind": "library.visit", "per_day": 1, "per_week": None,
                                  "timezone": LONDON}),
    ("cycle-daily-cap", "cap", {"activity": "activity", "kind": "cycle.trip", "per_day": 4, "per_week": None,
                                "timezone": LONDON}),
    ("recycling-weekly-cap", "cap", {"activity": "activity", "kind": "recycling.visit", "per_day": None,
                                     "per_week": 2, "timezone": LONDON}),
    ("energy-check-weekly-cap", "cap", {"activity": "activity", "kind": "home.energy_check", "per_day": None,
                                        "per_week": 1, "timezone": LONDON}),
    ("referral-bonus", "referral", {"referrer_points": 100, "referred_points": 100, "max_per_referrer": 10}),
]


def upgrade() -> None:
    op.add_column("earnings", sa.Column("activity_kind", sa.Text()))
    op.create_table(
        "providers",
        sa.Column("provider_id", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kinds", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("provider_id", sa.Text(), sa.ForeignKey("providers.provider_id"), primary_key=True),
        sa.Column("ref_hash", sa.LargeBinary(), primary_key=True),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "activities",
        sa.Column("provider_id", sa.Text(), sa.ForeignKey("providers.provider_id"), primary_key=True),
        sa.Column("activity_id", sa.Text(), primary_key=True),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("voided", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "referral_codes",
        sa.Column("member_id", sa.Text(), primary_key=True),
        sa.Column("code", sa.Text(), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "referrals",
        sa.Column("referred_id", sa.Text(), primary_key=True),
        sa.Column("referral_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("referrer_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewarded_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('pending', 'rewarded', 'referrer_at_limit')", name="referrals_status_known"),
        sa.CheckConstraint("referred_id <> referrer_id", name="referrals_not_self"),
    )
    op.create_index("ix_memberships_member_id", "memberships", ["member_id"])
    op.create_index("ix_activities_member_id", "activities", ["member_id"])
    op.create_index("ix_referrals_referrer_id", "referrals", ["referrer_id"])
    op.bulk_insert(rules, [
        {"rule_id": rule_id, "version": 1, "kind": kind, "effective_from": datetime(2020, 1, 1, tzinfo=UTC),
         "definition": definition, "created_by": "default scheme"}
        for rule_id, kind, definition in DEFAULT_RULES
    ])


def downgrade() -> None:
    op.execute("DELETE FROM rules WHERE rule_id IN ({})".format(
        ", ".join(f"'{rule_id}'" for rule_id, _, _ in DEFAULT_RULES)))
    for table in ("referrals", "referral_codes", "activities", "memberships", "providers"):
        op.drop_table(table)
    op.drop_column("earnings", "activity_kind")
