"""Erasure: the ledger forgets who a member was, and keeps its amounts under a pseudonym."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from rewards_shared.runtime import utc_now

from ..models import (
    Account,
    Activity,
    Attendance,
    ChallengeActivity,
    ChallengeProgress,
    Earning,
    Lot,
    Member,
    Membership,
    Referral,
    ReferralCode,
    Transfer,
)
from .holds import release
from .lots import debit_available
from .postings import (
    ISSUANCE,
    TransferRequest,
    available_account,
    emit,
    lock_available,
    pending_account,
    post,
    spendable,
    transfer_id,
)


def erase_member(session: Session, member_id: str, *, pseudonym: str, at: datetime | None = None) -> bool:
    """Release the member's holds, drop their pending points, withdraw what they could still spend,
    tell the other services once (`member.erased`), then put `pseudonym` in the member's place in every
    record the ledger keeps, so its amounts still add up and nothing leads back to the person.
    False when there is no such member."""
    member = session.get(Member, member_id, with_for_update=True)
    if member is None:
        return False
    if member.erased_at is not None:
        return True
    for held in _open_holds(session, member_id):
        release(session, held.id, id=transfer_id("release", held.id), reason="member erased")
    for promised in _open_pending(session, member_id):
        cause = f"{promised.source_type}:{promised.source_id}"
        post(session, TransferRequest(
            id=transfer_id("pending-cleared", cause), debit_account_id=pending_account(member_id),
            credit_account_id=ISSUANCE, amount=promised.amount, code="reject", member_id=member_id,
            source_type=promised.source_type, source_id=promised.source_id, reason="member erased"))
    spare = spendable(lock_available(session, member_id))
    if spare > 0:
        debit_available(session, member_id=member_id, amount=spare, to_account=ISSUANCE, code="erase",
                        id=transfer_id("erase", pseudonym), reason="member erased")
    emit(session, "member.erased", member_id, withdrawn_points=max(spare, 0))
    _pseudonymise(session, member_id, pseudonym, at=at or utc_now())
    return True


def _open_holds(session: Session, member_id: str) -> list[Transfer]:
    resolved = sa.select(Transfer.pending_id).where(Transfer.member_id == member_id, Transfer.pending_id.is_not(None))
    return list(session.execute(sa.select(Transfer).where(
        Transfer.member_id == member_id, Transfer.pending.is_(True), Transfer.id.not_in(resolved))).scalars())


def _open_pending(session: Session, member_id: str) -> list[Transfer]:
    cleared = aliased(Transfer)
    return list(session.execute(sa.select(Transfer).where(
        Transfer.member_id == member_id, Transfer.code == "pending",
        ~sa.exists().where(cleared.member_id == member_id, cleared.code.in_(("confirm", "reject")),
                           cleared.source_type == Transfer.source_type, cleared.source_id == Transfer.source_id))
    ).scalars())


def _pseudonymise(session: Session, member_id: str, pseudonym: str, *, at: datetime) -> None:
    """Every row naming the member names the pseudonym instead; renamed accounts carry their transfers
    with them (ON UPDATE CASCADE)."""
    session.flush()
    for account in (available_account, pending_account):
        session.execute(sa.update(Account).where(Account.id == account(member_id))
                        .values(id=account(pseudonym), member_id=pseudonym))
    same = {"member_id": pseudonym}
    for model in (Transfer, Lot, Earning, Attendance, Activity, ChallengeProgress, ChallengeActivity):
        session.execute(sa.update(model).where(model.member_id == member_id).values(same))
    for model in (Membership, ReferralCode):
        session.execute(sa.delete(model).where(model.member_id == member_id))
    session.execute(sa.update(Referral).where(Referral.referred_id == member_id).values(referred_id=pseudonym))
    session.execute(sa.update(Referral).where(Referral.referrer_id == member_id).values(referrer_id=pseudonym))
    session.execute(sa.update(Transfer).where(sa.func.split_part(Transfer.actor, "#", 1) == f"member:{member_id}")
                    .values(actor=f"member:{pseudonym}"))
    session.execute(sa.update(Member).where(Member.member_id == member_id).values(
        member_id=pseudonym, erased_at=at, home_area=None, usual_mode=None, profile_updated_at=None,
        research_consent=False))
    session.expire_all()
    session.info.get("members_ensured", set()).discard(member_id)

