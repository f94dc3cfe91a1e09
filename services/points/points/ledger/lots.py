"""Lots: points earned together, spent oldest first and expiring together, with a warning ahead."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared.runtime import utc_now

from ..models import Lot, Transfer
from .postings import (
    BREAKAGE,
    Posted,
    TransferRequest,
    available_account,
    emit,
    lock_available,
    post,
    spendable,
    transfer_id,
)

LOT_LIFETIME = timedelta(days=365)


def open_lot(session: Session, transfer: Transfer, at: datetime) -> None:
    session.add(Lot(member_id=transfer.member_id, transfer_id=transfer.id, points=transfer.amount,
                    remaining=transfer.amount, earned_at=at, expires_at=at + LOT_LIFETIME))


def consume(session: Session, member_id: str, amount: int, *, lot: Lot | None = None) -> None:
    """Spend `amount` from the member's lots, oldest first (or from one lot, for its expiry)."""
    lots = [lot] if lot is not None else session.execute(
        sa.select(Lot).where(Lot.member_id == member_id, Lot.remaining > 0)
        .order_by(Lot.expires_at, Lot.id).with_for_update()).scalars()
    for each in lots:
        if amount <= 0:
            break
        taken = min(each.remaining, amount)
        each.remaining -= taken
        amount -= taken


def debit_available(session: Session, *, member_id: str, amount: int, to_account: str, code: str,
                    id: uuid.UUID, reason: str | None = None, actor: str | None = None,
                    source_type: str | None = None, source_id: str | None = None,
                    details: dict | None = None) -> Posted:
    """Take points out of the member's available balance (oldest lots first)."""
    posted = post(session, TransferRequest(
        id=id, debit_account_id=available_account(member_id), credit_account_id=to_account, amount=amount,
        code=code, member_id=member_id, reason=reason, actor=actor, source_type=source_type,
        source_id=source_id, details=details))
    if posted.created:
        consume(session, member_id, amount)
    return posted


def expire_due_lots(session: Session, *, at: datetime | None = None, limit: int = 500) -> int:
    """Expire what is left of lots past their date. Points a hold has reserved stay until the hold
    is captured (which spends them) or released (after which the next run expires them)."""
    at = at or utc_now()
    lots = session.execute(
        sa.select(Lot).where(Lot.expires_at <= at, Lot.remaining > 0).order_by(Lot.expires_at, Lot.id)
        .limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    expired = 0
    for lot in lots:
        account = lock_available(session, lot.member_id)
        amount = min(lot.remaining, max(0, spendable(account)))
        if amount <= 0:
            continue
        posted = post(session, TransferRequest(
            id=transfer_id("expire", lot.id, lot.remaining), debit_account_id=account.id,
            credit_account_id=BREAKAGE, amount=amount, code="expire", member_id=lot.member_id,
            source_type="lot", source_id=str(lot.id)))
        consume(session, lot.member_id, amount, lot=lot)
        emit(session, "points.expired", lot.member_id, points=amount, transfer_id=str(posted.transfer.id),
             expires_at=lot.expires_at.isoformat(), available=spendable(account))
        expired += 1
    return expired


def warn_expiring_lots(session: Session, *, at: datetime | None = None, ahead: timedelta = timedelta(days=30),
                       limit: int = 500) -> int:
    """`points.expiring_soon` once per lot, `ahead` of its expiry."""
    at = at or utc_now()
    lots = session.execute(
        sa.select(Lot).where(Lot.expires_at <= at + ahead, Lot.expires_at > at, Lot.remaining > 0,
                             Lot.warned_at.is_(None))
        .order_by(Lot.expires_at).limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    for lot in lots:
        lot.warned_at = at
        emit(session, "points.expiring_soon", lot.member_id, points=lot.remaining,
             expires_at=lot.expires_at.isoformat(), source_type="lot", source_id=str(lot.id))
    return len(lots)
