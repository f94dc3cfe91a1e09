"""A member's accounts, opened on first sight."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..models import Account, Member
from .postings import available_account, pending_account


def ensure_member(session: Session, member_id: str) -> bool:
    """Create the member and its accounts if missing; True when newly created (once per session)."""
    return member_id in ensure_members(session, [member_id])


def ensure_members(session: Session, member_ids) -> set[str]:
    """Create the members and their accounts that are missing, in two statements at most; the ids
    newly created (each member is looked at once per session)."""
    known = session.info.setdefault("members_ensured", set())
    wanted = sorted(set(member_ids) - known)
    if not wanted:
        return set()
    known.update(wanted)
    created = set(session.execute(
        insert(Member).values([{"member_id": m} for m in wanted]).on_conflict_do_nothing()
        .returning(Member.member_id)).scalars())
    if created:
        session.execute(insert(Account).values([
            {"id": account(member_id), "kind": kind, "member_id": member_id, "debits_must_not_exceed_credits": True}
            for member_id in sorted(created)
            for account, kind in ((available_account, "member_available"), (pending_account, "member_pending"))
        ]).on_conflict_do_nothing())
    return created


def is_erased(session: Session, member_id: str) -> bool:
    return bool(erased_among(session, [member_id]))


def erased_among(session: Session, member_ids) -> set[str]:
    """Which of the members the ledger has erased, in one query."""
    wanted = sorted(set(member_ids))
    return set(session.execute(sa.select(Member.member_id).where(
        Member.member_id.in_(wanted), Member.erased_at.is_not(None))).scalars()) if wanted else set()
