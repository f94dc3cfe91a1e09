"""The points database: members, ledger accounts and immutable transfers."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Member(Base):
    __tablename__ = "members"

    member_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    tier: Mapped[str] = mapped_column(sa.Text, server_default="bronze")
    lifetime_earned: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    erased_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Account(Base):
    """Balances are running sums of the account's transfers (checked by `rewards ledger verify`)."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    member_id: Mapped[str | None] = mapped_column(sa.Text, index=True)
    debits_pending: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    debits_posted: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    credits_pending: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    credits_posted: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted",
            name="accounts_not_overdrawn"),
    )


class Transfer(Base):
    __tablename__ = "transfers"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    debit_account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    credit_account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    code: Mapped[str] = mapped_column(sa.Text)
    pending: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    pending_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("transfers.id"), unique=True)
    timeout_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    member_id: Mapped[str | None] = mapped_column(sa.Text)
    source_type: Mapped[str | None] = mapped_column(sa.Text)
    source_id: Mapped[str | None] = mapped_column(sa.Text)
    rule_id: Mapped[str | None] = mapped_column(sa.Text)
    rule_version: Mapped[int | None] = mapped_column(sa.Integer)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="transfers_amount_positive"),
        sa.CheckConstraint("debit_account_id <> credit_account_id", name="transfers_distinct_accounts"),
        sa.Index("transfers_member_history", "member_id", sa.text("seq DESC")),
    )
