"""A member's accounts, opened on first sight, and their erasure."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.runtime import utc_now

from ..models import Account, Member
from .lots import debit_available
from .postings import ISSUANCE, available_account, emit, lock_available, pending_account, spendable, transfer_id


def ensure_member(session: Session, member_id: str) -> bool:
    """Create the member and its accounts if missing; True when newly created (once per session)."""
    known = session.info.setdefault("members_ensured", set())
    if member_id in known:
        return False
    known.add(member_id)
    created = session.execute(
        insert(Member).values(member_id=member_id).on_conflict_do_nothing().returning(Member.member_id)
    ).first() is not None
    if created:
        session.execute(insert(Account).values([
            {"id": available_account(member_id), "kind": "member_available", "member_id": member_id,
             "debits_must_not_exceed_credits": True},
            {"id": pending_account(member_id), "kind": "member_pending", "member_id": member_id,
             "debits_must_not_exceed_credits": True},
        ]).on_conflict_do_nothing())
    return created


def is_erased(session: Session, member_id: str) -> bool:
    return session.execute(sa.select(Member.erased_at).where(Member.member_id == member_id)).scalar() is not None


def erase_member(session: Session, member_id: str, *, at: datetime | None = None) -> bool:
    """Withdraw what the member could still spend, mark them erased and tell the other services once.
    False when there is no such member; a repeat changes nothing."""
    member = session.get(Member, member_id, with_for_update=True)
    if member is None:
        return False
    if member.erased_at is not None:
        return True
    spare = spendable(lock_available(session, member_id))
    if spare > 0:
        debit_available(session, member_id=member_id, amount=spare, to_account=ISSUANCE, code="erase",
                        id=transfer_id("erase", member_id), reason="member erased")
    member.erased_at = at or utc_now()
    member.home_area = member.usual_mode = member.profile_updated_at = None
    member.research_consent = False
    emit(session, "member.erased", member_id, withdrawn_points=max(spare, 0))
    return True
