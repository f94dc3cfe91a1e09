"""The transit-ingest database: card links, taps and the journeys paired from them.

Card references exist here only as keyed HMACs (`card_hash`), never in clear.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CardLink(Base):
    __tablename__ = "card_links"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    operator_id: Mapped[str] = mapped_column(sa.Text)
    card_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    card_hint: Mapped[str] = mapped_column(sa.Text)
    member_id: Mapped[str] = mapped_column(sa.Text, index=True)
    linked_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    unlinked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index("card_links_active", "operator_id", "card_hash", unique=True,
                 postgresql_where=sa.text("unlinked_at IS NULL")),
    )


class Tap(Base):
    __tablename__ = "taps"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    operator_id: Mapped[str] = mapped_column(sa.Text)
    tap_id: Mapped[str] = mapped_column(sa.Text)
    card_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    type: Mapped[str] = mapped_column(sa.Text)
    outcome: Mapped[str] = mapped_column(sa.Text)
    mode: Mapped[str] = mapped_column(sa.Text)
    route_id: Mapped[str | None] = mapped_column(sa.Text)
    stop_id: Mapped[str | None] = mapped_column(sa.Text)
    direction: Mapped[str | None] = mapped_column(sa.Text)
    vehicle_id: Mapped[str | None] = mapped_column(sa.Text)
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    journey_id: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("operator_id", "tap_id", name="taps_operator_tap"),
        sa.Index("taps_card_time", "operator_id", "card_hash", "occurred_at"),
    )


class Journey(Base):
    __tablename__ = "journeys"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    operator_id: Mapped[str] = mapped_column(sa.Text)
    card_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    member_id: Mapped[str | None] = mapped_column(sa.Text, index=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text, server_default="completed")
    mode: Mapped[str] = mapped_column(sa.Text)
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    route_id: Mapped[str | None] = mapped_column(sa.Text)
    origin_stop_id: Mapped[str | None] = mapped_column(sa.Text)
    destination_stop_id: Mapped[str | None] = mapped_column(sa.Text)
    distance_km: Mapped[float | None] = mapped_column(sa.Float)
    announced_revision: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (sa.Index("journeys_card", "operator_id", "card_hash", "started_at"),)
