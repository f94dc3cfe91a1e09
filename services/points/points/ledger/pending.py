"""Pending points: promised for something awaiting confirmation (an attendance), shown but not
spendable, then made available or taken back."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from rewards_shared.runtime import utc_now

from ..models import Transfer
from .earning import earn
from .lots import open_lot
from .members import ensure_member
from .postings import (
    ISSUANCE,
    Posted,
    TransferRequest,
    available_account,
    available_now,
    emit,
    pending_account,
    post,
    transfer_id,
)
from .tiers import add_lifetime


def credit_pending(session: Session, *, member_id: str, points: int, source_type: str, source_id: str,
                   cause: str, rule_id: str | None = None, rule_version: int | None = None,
                   occurred_at: datetime | None = None) -> Posted:
    """Points the member will get once something is confirmed: shown as `pending`, not spendable."""
    ensure_member(session, member_id)
    posted = post(session, TransferRequest(
        id=transfer_id("pending", cause), debit_account_id=ISSUANCE, credit_account_id=pending_account(member_id),
        amount=points, code="pending", member_id=member_id, source_type=source_type, source_id=source_id,
        rule_id=rule_id, rule_version=rule_version, occurred_at=occurred_at))
    if posted.created:
        emit(session, "points.pending", member_id, points=points, transfer_id=str(posted.transfer.id),
             source_type=source_type, source_id=source_id)
    return posted


def settle_pending(session: Session, *, member_id: str, cause: str, confirmed: bool, points: int | None = None,
                   rule_id: str | None = None, rule_version: int | None = None, reason: str | None = None,
                   at: datetime | None = None) -> int:
    """Turn pending points into available ones (confirmed) or take them back (rejected).

    A confirmation may award a different amount than was pending (the rule decides at confirmation):
    the pending amount is cleared either way and the confirmed amount becomes available."""
    at = at or utc_now()
    pending = session.get(Transfer, transfer_id("pending", cause))
    if pending is None:
        if confirmed and points:
            return _confirm_without_pending(session, member_id, cause, points, rule_id, rule_version, at)
        return 0
    cleared = post(session, TransferRequest(
        id=transfer_id("pending-cleared", cause), debit_account_id=pending_account(member_id),
        credit_account_id=ISSUANCE, amount=pending.amount, code="confirm" if confirmed else "reject",
        member_id=member_id, source_type=pending.source_type, source_id=pending.source_id, reason=reason))
    if not cleared.created:
        return 0
    if not confirmed:
        emit(session, "points.reversed", member_id, points=pending.amount, transfer_id=str(cleared.transfer.id),
             source_type=pending.source_type, source_id=pending.source_id, reason=reason or "not confirmed",
             account="pending")
        return 0
    award = pending.amount if points is None else points
    if award <= 0:
        return 0
    posted = post(session, TransferRequest(
        id=transfer_id("earn", cause), debit_account_id=ISSUANCE, credit_account_id=available_account(member_id),
        amount=award, code="earn", member_id=member_id, source_type=pending.source_type,
        source_id=pending.source_id, rule_id=rule_id or pending.rule_id,
        rule_version=rule_version or pending.rule_version, occurred_at=pending.occurred_at))
    open_lot(session, posted.transfer, at)
    add_lifetime(session, member_id, award)
    emit(session, "points.confirmed", member_id, points=award, transfer_id=str(posted.transfer.id),
         source_type=pending.source_type, source_id=pending.source_id,
         available=available_now(session, member_id))
    return award


def _confirm_without_pending(session: Session, member_id: str, cause: str, points: int, rule_id: str | None,
                             rule_version: int | None, at: datetime) -> int:
    source_type, _, source_id = cause.partition(":")
    posted = earn(session, member_id=member_id, points=points, source_type=source_type, source_id=source_id,
                  cause=cause, rule_id=rule_id, rule_version=rule_version, at=at)
    return points if posted.created else 0
