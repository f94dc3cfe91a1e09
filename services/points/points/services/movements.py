"""Staff adjustments and members' donations to community groups: audited, idempotent movements of points."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from rewards_shared.auth import Principal

from .. import ledger
from .members import refuse_if_erased

if TYPE_CHECKING:
    from ..bootstrap import Points


def _movement(session: Session, posted: ledger.Posted, member_id: str, points: int) -> dict:
    return {"transfer_id": str(posted.transfer.id), "member_id": member_id, "points": points,
            "available": ledger.balance(session, member_id).available}


def adjust(rt: Points, principal: Principal, *, member_id: str, points: int, reason: str, key: str) -> dict:
    """Credit (+) or debit (−) a member, recorded with the acting credential."""
    with rt.database.transaction() as session:
        refuse_if_erased(rt, session, member_id)
        posted = ledger.adjust(session, member_id=member_id, points=points, reason=reason, actor=principal.id,
                               key=key, at=rt.clock())
        return _movement(session, posted, member_id, points)


def add_group(rt: Points, *, group_id: str, name: str) -> tuple[dict, bool]:
    """The group, and whether it is new."""
    with rt.database.transaction() as session:
        group, created = ledger.add_group(session, group_id, name)
        return {"group_id": group.group_id, "name": group.name,
                "points_received": ledger.group_total(session, group.group_id)}, created


def donate(rt: Points, principal: Principal, *, member_id: str, group_id: str, points: int, key: str) -> dict:
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        refuse_if_erased(rt, session, member_id)
        posted = ledger.donate(session, member_id=member_id, group_id=group_id, points=points, key=key,
                               actor=principal.id)
        return _movement(session, posted, member_id, -points)
