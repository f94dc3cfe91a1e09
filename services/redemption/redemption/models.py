"""The redemption database: partners, the rewards they offer, and members' redemptions of them.

Voucher codes are never stored: a redemption keeps only the SHA-256 of its code (`voucher_hash`).
The code itself is derived from the redemption id with a key the database does not hold.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from rewards_shared.erasure import tombstone_table

FUNDERS = ("partner", "council")
STATUSES = ("pending", "issued", "rejected", "redeemed", "expired", "cancelled")
FINAL_STATUSES = ("rejected", "redeemed", "expired", "cancelled")
# Redemptions that count against stock and a member's limit.
LIVE_STATUSES = ("pending", "issued", "redeemed")


class Base(DeclarativeBase):
    pass


erased_members = tombstone_table(Base.metadata)


class Partner(Base):
    """A business that honours vouchers at its tills (a café, a leisure centre)."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    contact_email: Mapped[str | None] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class PartnerLocation(Base):
    """Where a partner's vouchers can be used: a shop, a leisure centre, with its position for the app's map."""

    __tablename__ = "partner_locations"

    partner_id: Mapped[str] = mapped_column(sa.ForeignKey("partners.id"), primary_key=True)
    location_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    address: Mapped[str | None] = mapped_column(sa.Text)
    latitude: Mapped[float] = mapped_column(sa.Float)
    longitude: Mapped[float] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180",
                           name="partner_locations_on_earth"),
    )


class Reward(Base):
    """Something members spend points on. `stock` counts the vouchers still to be given out."""

    __tablename__ = "rewards"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    partner_id: Mapped[str] = mapped_column(sa.ForeignKey("partners.id"), index=True)
    title: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    cost_points: Mapped[int] = mapped_column(sa.Integer)
    stock: Mapped[int] = mapped_column(sa.Integer)
    per_member_limit: Mapped[int | None] = mapped_column(sa.Integer)
    valid_from: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    voucher_valid_days: Mapped[int] = mapped_column(sa.Integer, server_default="14")
    funded_by: Mapped[str] = mapped_column(sa.Text)
    settlement_pence: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    category: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.Index("rewards_category", "category", "id"),
        sa.CheckConstraint("cost_points > 0", name="rewards_cost_positive"),
        sa.CheckConstraint("stock >= 0", name="rewards_stock_not_negative"),
        sa.CheckConstraint("per_member_limit IS NULL OR per_member_limit > 0", name="rewards_limit_positive"),
        sa.CheckConstraint("funded_by IN ('partner', 'council')", name="rewards_funded_by_known"),
        sa.CheckConstraint("settlement_pence >= 0", name="rewards_settlement_not_negative"),
        sa.CheckConstraint("valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from",
                           name="rewards_window_ordered"),
    )


class Redemption(Base):
    """One member spending points on one reward: the saga's state, and the voucher once issued.

    The reward's price and funding terms are copied at request time, so later catalogue edits
    change neither what the member was charged nor what the council owes for it."""

    __tablename__ = "redemptions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    member_id: Mapped[str | None] = mapped_column(sa.Text)  # None once the member was erased
    reward_id: Mapped[str] = mapped_column(sa.ForeignKey("rewards.id"))
    partner_id: Mapped[str] = mapped_column(sa.ForeignKey("partners.id"))
    reward_title: Mapped[str] = mapped_column(sa.Text)
    cost_points: Mapped[int] = mapped_column(sa.Integer)
    funded_by: Mapped[str] = mapped_column(sa.Text)
    settlement_pence: Mapped[int] = mapped_column(sa.Integer)
    voucher_valid_days: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.Text, server_default="pending")
    reason: Mapped[str | None] = mapped_column(sa.Text)
    voucher_hash: Mapped[str | None] = mapped_column(sa.Text, unique=True)
    hold_transfer_id: Mapped[str | None] = mapped_column(sa.Text)
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    requested_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    issued_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    redeemed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    redeemed_by: Mapped[str | None] = mapped_column(sa.Text)
    redeemed_key: Mapped[str | None] = mapped_column(sa.Text)  # the till's Idempotency-Key
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint(f"status IN {STATUSES}", name="redemptions_status_known"),
        sa.Index("redemptions_member_reward", "member_id", "reward_id"),
        sa.Index("redemptions_member_history", "member_id", sa.text("requested_at DESC"), "id"),
        sa.Index("redemptions_due_expiry", "expires_at", postgresql_where=sa.text("status = 'issued'")),
        sa.Index("redemptions_unanswered", "requested_at", postgresql_where=sa.text("status = 'pending'")),
        sa.Index("redemptions_settlement", "partner_id", "redeemed_at",
                 postgresql_where=sa.text("status = 'redeemed'")),
    )
