"""Seed the default earning scheme: bus/tram 10, rail 15, off-peak +5, 4 rewarded journeys a day,
volunteering 50 an hour from 30 minutes up to 8 hours a day.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

rules = sa.table("rules", sa.column("rule_id", sa.Text), sa.column("version", sa.Integer),
                 sa.column("kind", sa.Text), sa.column("effective_from", sa.DateTime(timezone=True)),
                 sa.column("definition", sa.JSON), sa.column("created_by", sa.Text))


WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
DEFAULT_SCHEME = [
    ("journey-by-mode", "journey", {"points_by_mode": {"bus": 10, "tram": 10, "rail": 15, "train": 15, "ferry": 10}}),
    ("off-peak-bonus", "off_peak", {"bonus": 5, "timezone": "Europe/London", "peak": [
        {"days": WEEKDAYS, "start": "07:00", "end": "09:30"},
        {"days": WEEKDAYS, "start": "16:00", "end": "18:30"}]}),
    ("journey-daily-cap", "cap", {"activity": "journey", "per_day": 4, "per_week": None,
                                  "timezone": "Europe/London"}),
    ("volunteering-hours", "volunteering", {"points_per_hour": 50, "min_minutes": 30, "max_hours_per_day": 8.0,
                                            "timezone": "Europe/London"}),
]


def upgrade() -> None:
    op.bulk_insert(rules, [
        {"rule_id": rule_id, "version": 1, "kind": kind, "effective_from": datetime(2020, 1, 1, tzinfo=UTC),
         "definition": definition, "created_by": "default scheme"}
        for rule_id, kind, definition in DEFAULT_SCHEME
    ])


def downgrade() -> None:
    op.execute("DELETE FROM rules WHERE created_by = 'default scheme' AND version = 1")
