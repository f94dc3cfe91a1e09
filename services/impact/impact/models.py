"""The impact database: pseudonymous facts, never a member id in clear.

A member appears only as a random `pseudonym`. The one link from a member id to it is `links`, keyed
by a keyed HMAC of the id; erasure deletes that link (and keeps only the HMAC as a tombstone, so a
late event for the member is dropped rather than counted as somebody new). Facts already recorded
stay, unlinkable, so the counts a council has published do not change under it.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MOVEMENTS = ("issued", "redeemed", "expired", "donated", "reversed", "adjusted", "withdrawn")


class Base(DeclarativeBase):
    pass


class Link(Base):
    """member HMAC → pseudonym: the only way from a person to their facts; deleted on erasure."""

    __tablename__ = "links"

    member_hash: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    pseudonym: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True)


class Erased(Base):
    """HMACs of erased members, so their late events are ignored instead of starting a new pseudonym."""

    __tablename__ = "erased"

    member_hash: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Member(Base):
    """What research may use about a pseudonym: area and baseline mode only with consent."""

    __tablename__ = "members"

    pseudonym: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    registered_on: Mapped[date | None] = mapped_column(sa.Date, index=True)
    first_seen_on: Mapped[date] = mapped_column(sa.Date)
    research_consent: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    home_area: Mapped[str | None] = mapped_column(sa.Text)
    usual_mode: Mapped[str | None] = mapped_column(sa.Text)
    erased: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())


class FactorSet(Base):
    __tablename__ = "factor_sets"

    version: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    source: Mapped[str] = mapped_column(sa.Text)
    loaded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Factor(Base):
    __tablename__ = "factors"

    version: Mapped[str] = mapped_column(sa.ForeignKey("factor_sets.version", ondelete="CASCADE"), primary_key=True)
    activity: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    unit: Mapped[str] = mapped_column(sa.Text)
    kg_co2e_per_unit: Mapped[Decimal] = mapped_column(sa.Numeric(12, 6))
    note: Mapped[str | None] = mapped_column(sa.Text)


class Area(Base):
    """Optional lookup from a postcode district to its ward, authority and deprivation decile."""

    __tablename__ = "areas"

    postcode_district: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    ward: Mapped[str | None] = mapped_column(sa.Text)
    local_authority: Mapped[str | None] = mapped_column(sa.Text)
    imd_decile: Mapped[int | None] = mapped_column(sa.SmallInteger)

    __table_args__ = (sa.CheckConstraint("imd_decile BETWEEN 1 AND 10", name="areas_imd_decile_range"),)


class Journey(Base):
    """One journey and its CO2e calculation. `co2e_avoided_kg` follows the member's current consent
    and baseline: it is recomputed for all their journeys when their research profile changes."""

    __tablename__ = "journeys"

    journey_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    pseudonym: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    revision: Mapped[int] = mapped_column(sa.Integer)
    day: Mapped[date] = mapped_column(sa.Date)
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    mode: Mapped[str] = mapped_column(sa.Text)
    peak: Mapped[bool] = mapped_column(sa.Boolean)
    km: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 3))
    factor_set: Mapped[str] = mapped_column(sa.Text)
    mode_factor: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 6))
    car_factor: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 6))
    co2e_avoided_kg: Mapped[Decimal] = mapped_column(sa.Numeric(14, 6), server_default="0")
    voided: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())

    __table_args__ = (sa.Index("journeys_by_day", "day", "mode", "peak", "pseudonym",
                               postgresql_where=sa.text("NOT voided")),)


class Attendance(Base):
    __tablename__ = "attendances"

    attendance_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    pseudonym: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    day: Mapped[date] = mapped_column(sa.Date, index=True)
    minutes: Mapped[int] = mapped_column(sa.Integer)


class Activity(Base):
    """An activity a provider attested (`activity_id` is provider:id), with the city's priorities it counts for."""

    __tablename__ = "activities"

    activity_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    pseudonym: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    revision: Mapped[int] = mapped_column(sa.Integer)
    day: Mapped[date] = mapped_column(sa.Date)
    provider_id: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.Text)
    priorities: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.Text))
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(10, 3))
    unit: Mapped[str] = mapped_column(sa.Text)
    voided: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())

    __table_args__ = (sa.Index("activities_by_day", "day", "kind", "pseudonym",
                               postgresql_where=sa.text("NOT voided")),)


class Movement(Base):
    """Points into (+) or out of (−) what members hold, as the ledger reported them, by day."""

    __tablename__ = "movements"

    event_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    pseudonym: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    day: Mapped[date] = mapped_column(sa.Date)
    kind: Mapped[str] = mapped_column(sa.Text)
    points: Mapped[int] = mapped_column(sa.Integer)
    group_id: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.CheckConstraint(f"kind IN {MOVEMENTS}", name="movements_kind_known"),
        sa.Index("movements_by_day", "day", "kind", "pseudonym", "points"),
    )


class Redemption(Base):
    """A redemption that reached the till, at the settlement terms agreed when it was requested."""

    __tablename__ = "redemptions"

    redemption_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    pseudonym: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    partner_id: Mapped[str] = mapped_column(sa.Text)
    reward_id: Mapped[str] = mapped_column(sa.Text)
    day: Mapped[date] = mapped_column(sa.Date, index=True)
    cost_points: Mapped[int] = mapped_column(sa.Integer)
    funded_by: Mapped[str | None] = mapped_column(sa.Text)
    settlement_pence: Mapped[int] = mapped_column(sa.Integer, server_default="0")
