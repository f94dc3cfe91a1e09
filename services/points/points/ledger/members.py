"""A member's accounts, opened on first sight."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..models import Account, Member
from .postings import available_account, pending_account


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
