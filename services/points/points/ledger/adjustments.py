"""Corrections: taking back what an earn gave, and staff adjustments with a reason."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from rewards_shared.errors import Invalid, NotFound
from rewards_shared.runtime import utc_now

from ..models import Member, Transfer
from .lots import debit_available, open_lot
from .postings import (
    ISSUANCE,
    Posted,
    TransferRequest,
    available_account,
    available_now,
    emit,
    lock_available,
    post,
    spendable,
    transfer_id,
)
from .tiers import add_lifetime


def reverse(session: Session, original: Transfer, *, cause: str, reason: str) -> Posted | None:
    """Take back what an earn gave, as far as the member still has it (never below zero)."""
    account = lock_available(session, original.member_id)
    amount = min(original.amount, max(0, spendable(account)))
    shortfall = original.amount - amount
    add_lifetime(session, original.member_id, -original.amount)
    if amount <= 0:
        return None
    posted = debit_available(session, member_id=original.member_id, amount=amount, to_account=ISSUANCE,
                             code="reverse", id=transfer_id("reverse", cause), reason=reason,
                             source_type=original.source_type, source_id=original.source_id,
                             details={"reverses": str(original.id), "shortfall": shortfall})
    emit(session, "points.reversed", original.member_id, points=amount, transfer_id=str(posted.transfer.id),
         source_type=original.source_type, source_id=original.source_id, reason=reason,
         available=spendable(account))
    return posted


def adjust(session: Session, *, member_id: str, points: int, reason: str, actor: str, key: str,
           at: datetime | None = None) -> Posted:
    """An audited correction by council staff: positive credits, negative debits (never below zero)."""
    if points == 0:
        raise Invalid("An adjustment moves a non-zero number of points.", field="points")
    if session.get(Member, member_id) is None:
        raise NotFound(f"No member {member_id}.", field="member_id")
    id = transfer_id("adjust", key)
    if points > 0:
        posted = post(session, TransferRequest(
            id=id, debit_account_id=ISSUANCE, credit_account_id=available_account(member_id), amount=points,
            code="adjust", member_id=member_id, reason=reason, actor=actor))
        if posted.created:
            open_lot(session, posted.transfer, at or utc_now())
    else:
        posted = debit_available(session, member_id=member_id, amount=-points, to_account=ISSUANCE, code="adjust",
                                 id=id, reason=reason, actor=actor)
    if posted.created:
        emit(session, "points.adjusted", member_id, points=points, transfer_id=str(id), reason=reason,
             available=available_now(session, member_id))
    return posted
