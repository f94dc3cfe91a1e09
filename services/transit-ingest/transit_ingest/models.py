"""The transit-ingest database: operators, their feeds, card links, taps and the journeys paired from them.

Card references exist here only as keyed HMACs (`card_hash`), never in clear.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from rewards_shared.erasure import tombstone_table


class Base(DeclarativeBase):
    pass


erased_members = tombstone_table(Base.metadata)


class Operator(Base):
    """A transit operator the scheme takes taps from, and how to read its data."""

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    default_mode: Mapped[str] = mapped_column(sa.Text, server_default="bus")
    fare_model: Mapped[str] = mapped_column(sa.Text, server_default="variable")
    participant_id: Mapped[str | None] = mapped_column(sa.Text)
    card_ref_field: Mapped[str] = mapped_column(sa.Text, server_default="funding_source_id")
    timezone: Mapped[str] = mapped_column(sa.Text, server_default="Europe/London")
    pairing_timeout_minutes: Mapped[int] = mapped_column(sa.Integer, server_default="180")
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Feed(Base):
    """One uploaded operator file: kept as a large object until processed, with its progress and counts."""

    __tablename__ = "feeds"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    operator_id: Mapped[str] = mapped_column(sa.Text, sa.ForeignKey("operators.id"))
    format: Mapped[str] = mapped_column(sa.Text)
    detected_format: Mapped[str | None] = mapped_column(sa.Text)
    filename: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text, server_default="queued")
    reason: Mapped[str | None] = mapped_column(sa.Text)
    content_oid: Mapped[int | None] = mapped_column(sa.BigInteger)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    sha256: Mapped[str | None] = mapped_column(sa.Text)
    bytes_read: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    lines_read: Mapped[int] = mapped_column(sa.BigInteger, server_default="1")
    rows: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    accepted: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    replaced: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    duplicates: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    ignored: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    rejected: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    attempts: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    created_by: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index("feeds_operator_created", "operator_id", sa.text("created_at DESC"), "id"),
        sa.Index("feeds_waiting", "created_at", postgresql_where=sa.text("status IN ('queued', 'processing')")),
    )


class FeedError(Base):
    """A rejected row of a feed, by line and field: the rejection report."""

    __tablename__ = "feed_errors"

    feed_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("feeds.id", ondelete="CASCADE"),
                                               primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    line: Mapped[int] = mapped_column(sa.BigInteger)
    field: Mapped[str] = mapped_column(sa.Text)
    message: Mapped[str] = mapped_column(sa.Text)


class Stop(Base):
    """A stop from the operator's GTFS stops.txt, for distances when taps carry no position."""

    __tablename__ = "stops"

    operator_id: Mapped[str] = mapped_column(sa.Text, sa.ForeignKey("operators.id"), primary_key=True)
    stop_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.Text)
    latitude: Mapped[float] = mapped_column(sa.Float)
    longitude: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class PairingQueue(Base):
    """Cards whose taps must be (re)paired from `since` on, once `due_at` has passed.

    New or changed taps make a card due now; a tap-on still waiting for its tap-off makes it due
    when the pairing timeout runs out, so the same queue turns it into an incomplete journey."""

    __tablename__ = "pairing_queue"

    operator_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    card_hash: Mapped[bytes] = mapped_column(sa.LargeBinary, primary_key=True)
    since: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.Index("pairing_queue_due", "due_at"),)


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

    operator_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    tap_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
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
    version_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    feed_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (sa.Index("taps_card_time", "operator_id", "card_hash", "occurred_at"),)


class Journey(Base):
    """A journey paired from taps. Once its taps are past retention, or its member is erased, it keeps
    only what the ledger and the impact figures rest on: no card, member, route or stops."""

    __tablename__ = "journeys"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    operator_id: Mapped[str] = mapped_column(sa.Text)
    card_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
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
    distance_source: Mapped[str | None] = mapped_column(sa.Text)
    on_tap_id: Mapped[str] = mapped_column(sa.Text)
    off_tap_id: Mapped[str | None] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    announced_revision: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (sa.Index("journeys_card", "operator_id", "card_hash", "started_at"),)
