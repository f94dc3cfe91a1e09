"""Two-phase spending: a hold reserves points, then is captured or released, at most once; a hold
nobody resolves is released at its timeout."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared.errors import NotFound
from rewards_shared.runtime import utc_now

from ..models import Transfer
from .lots import consume
from .members import ensure_member
from .postings import REDEMPTIONS, Posted, TransferRequest, available_account, available_now, emit, post, transfer_id


def hold(session: Session, *, member_id: str, points: int, id: uuid.UUID, timeout_at: datetime,
         source_type: str, source_id: str, reason: str | None = None) -> Posted:
    ensure_member(session, member_id)
    return post(session, TransferRequest(
        id=id, debit_account_id=available_account(member_id), credit_account_id=REDEMPTIONS, amount=points,
        code="hold", member_id=member_id, source_type=source_type, source_id=source_id, reason=reason,
        pending=True, timeout_at=timeout_at))


def capture(session: Session, hold_id: uuid.UUID, *, id: uuid.UUID, actor: str | None = None) -> Posted:
    held = _require_hold(session, hold_id)
    posted = post(session, TransferRequest(
        id=id, debit_account_id=held.debit_account_id, credit_account_id=held.credit_account_id,
        amount=held.amount, code="capture", member_id=held.member_id, source_type=held.source_type,
        source_id=held.source_id, actor=actor, pending_id=held.id))
    if posted.created:
        consume(session, held.member_id, held.amount)
    return posted


def release(session: Session, hold_id: uuid.UUID, *, id: uuid.UUID, reason: str) -> Posted:
    held = _require_hold(session, hold_id)
    return post(session, TransferRequest(
        id=id, debit_account_id=held.debit_account_id, credit_account_id=held.credit_account_id,
        amount=held.amount, code="release", member_id=held.member_id, source_type=held.source_type,
        source_id=held.source_id, reason=reason, pending_id=held.id))


def _require_hold(session: Session, hold_id: uuid.UUID) -> Transfer:
    held = session.get(Transfer, hold_id)
    if held is None or not held.pending:
        raise NotFound(f"No hold {hold_id}.", field="hold_id")
    return held


def resolution_of(session: Session, hold_id: uuid.UUID) -> Transfer | None:
    return session.execute(sa.select(Transfer).where(Transfer.pending_id == hold_id)).scalar()


def release_timed_out_holds(session: Session, *, at: datetime | None = None, limit: int = 500) -> int:
    """The safety net: holds nobody captured or released by their timeout are released."""
    at = at or utc_now()
    resolved = sa.select(Transfer.pending_id).where(Transfer.pending_id.is_not(None))
    due = session.execute(
        sa.select(Transfer).where(Transfer.pending.is_(True), Transfer.timeout_at <= at,
                                  Transfer.id.not_in(resolved))
        .order_by(Transfer.timeout_at).limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    for held in due:
        released = release(session, held.id, id=transfer_id("release", held.id), reason="timeout")
        emit(session, "points.released", held.member_id, points=held.amount, transfer_id=str(released.transfer.id),
             source_type=held.source_type, source_id=held.source_id,
             redemption_id=held.source_id if held.source_type == "redemption" else None, reason="timeout",
             available=available_now(session, held.member_id))
    return len(due)
