"""The notifications database: contacts, preferences, the members' inboxes and the deliveries outbox."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from rewards_shared.erasure import tombstone_table


class Base(DeclarativeBase):
    pass


# Members who asked to be forgotten (keyed markers, not ids): late or replayed events for them write nothing.
erased_members = tombstone_table(Base.metadata)


class InboxItem(Base):
    __tablename__ = "inbox"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    member_id: Mapped[str] = mapped_column(sa.Text)
    event_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True)
    type: Mapped[str] = mapped_column(sa.Text)
    title: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    read_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index("inbox_member", "member_id", sa.text("seq DESC")),
        sa.Index("inbox_unread", "member_id", postgresql_where=sa.text("read_at IS NULL")),
    )


class Contact(Base):
    """How to reach a member; held by this service alone."""
    __tablename__ = "contacts"

    member_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    email: Mapped[str | None] = mapped_column(sa.Text)
    phone: Mapped[str | None] = mapped_column(sa.Text)
    push_tokens: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Preference(Base):
    __tablename__ = "preferences"

    member_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    document: Mapped[dict] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Delivery(Base):
    """One message to one member on one channel: written by the consumer, sent by the dispatcher.

    status: pending → sent | failed | cancelled; `held` rows wait for the daily digest and become `digested`.
    """
    __tablename__ = "deliveries"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    dedupe_key: Mapped[str] = mapped_column(sa.Text, unique=True)
    member_id: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.Text)
    target: Mapped[str | None] = mapped_column(sa.Text)
    locale: Mapped[str] = mapped_column(sa.Text)
    context: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(sa.Text, server_default="pending")
    not_before: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    attempts: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    provider_id: Mapped[str | None] = mapped_column(sa.Text)
    digest_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index("deliveries_due", "channel", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")),
        sa.Index("deliveries_held", "not_before", postgresql_where=sa.text("status = 'held'")),
        sa.Index("deliveries_member", "member_id", sa.text("seq DESC")),
        sa.Index("deliveries_status", "status", sa.text("seq DESC")),
    )
