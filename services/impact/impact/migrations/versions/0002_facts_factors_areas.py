"""Pseudonymous facts, CO2e factor sets (with DESNZ 2025 shipped) and the area lookup.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 16:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

MOVEMENTS = "('issued', 'redeemed', 'expired', 'donated', 'reversed', 'adjusted', 'withdrawn')"


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("member_hash", sa.Text(), primary_key=True),
        sa.Column("pseudonym", sa.Uuid(), nullable=False, unique=True),
    )
    op.create_table(
        "erased",
        sa.Column("member_hash", sa.Text(), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.create_table(
        "members",
        sa.Column("pseudonym", sa.Uuid(), primary_key=True),
        sa.Column("registered_on", sa.Date()),
        sa.Column("first_seen_on", sa.Date(), nullable=False),
        sa.Column("research_consent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("home_area", sa.Text()),
        sa.Column("usual_mode", sa.Text()),
        sa.Column("erased", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index("ix_members_registered_on", "members", ["registered_on"])
    op.create_table(
        "factor_sets",
        sa.Column("version", sa.Text(), primary_key=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.create_table(
        "factors",
        sa.Column("version", sa.Text(), sa.ForeignKey("factor_sets.version", ondelete="CASCADE"), primary_key=True),
        sa.Column("activity", sa.Text(), primary_key=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("kg_co2e_per_unit", sa.Numeric(12, 6), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_table(
        "areas",
        sa.Column("postcode_district", sa.Text(), primary_key=True),
        sa.Column("ward", sa.Text()),
        sa.Column("local_authority", sa.Text()),
        sa.Column("imd_decile", sa.SmallInteger()),
        sa.CheckConstraint("imd_decile BETWEEN 1 AND 10", name="areas_imd_decile_range"),
    )
    op.create_table(
        "journeys",
        sa.Column("journey_id", sa.Text(), primary_key=True),
        sa.Column("pseudonym", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("peak", sa.Boolean(), nullable=False),
        sa.Column("km", sa.Numeric(10, 3)),
        sa.Column("factor_set", sa.Text(), nullable=False),
        sa.Column("mode_factor", sa.Numeric(12, 6)),
        sa.Column("car_factor", sa.Numeric(12, 6)),
        sa.Column("co2e_avoided_kg", sa.Numeric(14, 6), server_default="0", nullable=False),
        sa.Column("voided", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index("ix_journeys_pseudonym", "journeys", ["pseudonym"])
    op.create_index("journeys_by_day", "journeys", ["day", "mode", "peak", "pseudonym"],
                    postgresql_where=sa.text("NOT voided"))
    op.create_table(
        "attendances",
        sa.Column("attendance_id", sa.Text(), primary_key=True),
        sa.Column("pseudonym", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
    )
    op.create_index("ix_attendances_pseudonym", "attendances", ["pseudonym"])
    op.create_index("ix_attendances_day", "attendances", ["day"])
    op.create_table(
        "movements",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("pseudonym", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Text()),
        sa.CheckConstraint(f"kind IN {MOVEMENTS}", name="movements_kind_known"),
    )
    op.create_index("ix_movements_pseudonym", "movements", ["pseudonym"])
    op.create_index("movements_by_day", "movements", ["day", "kind", "pseudonym", "points"])
    op.create_table(
        "redemptions",
        sa.Column("redemption_id", sa.Text(), primary_key=True),
        sa.Column("pseudonym", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Text(), nullable=False),
        sa.Column("reward_id", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cost_points", sa.Integer(), nullable=False),
        sa.Column("funded_by", sa.Text()),
        sa.Column("settlement_pence", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_index("ix_redemptions_pseudonym", "redemptions", ["pseudonym"])
    op.create_index("ix_redemptions_day", "redemptions", ["day"])
    _ship_factor_set()


def _ship_factor_set() -> None:
    from impact import factors

    sets = sa.table("factor_sets", sa.column("version", sa.Text), sa.column("source", sa.Text))
    rows = sa.table("factors", sa.column("version", sa.Text), sa.column("activity", sa.Text),
                    sa.column("unit", sa.Text), sa.column("kg_co2e_per_unit", sa.Numeric),
                    sa.column("note", sa.Text))
    op.bulk_insert(sets, [{"version": "2025",
                           "source": "UK DESNZ greenhouse gas conversion factors 2025 (shipped with the service)"}])
    op.bulk_insert(rows, [{"version": "2025", **row} for row in factors.parse(factors.shipped_text("2025"))])


def downgrade() -> None:
    for table in ("redemptions", "movements", "attendances", "journeys", "areas", "factors", "factor_sets",
                  "members", "erased", "links"):
        op.drop_table(table)
