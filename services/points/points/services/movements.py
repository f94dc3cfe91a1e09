"""Staff adjustments and members' donations to community groups: audited, idempotent movements of points."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from rewards_shared.auth import Principal
from rewards_shared.errors import NotFound
from rewards_shared.pagination import decode_cursor, page_of

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
        return ledger.groups(session, limit=1, group_id=group.group_id)[0], created


def list_groups(rt: Points, *, limit: int, cursor: str | None) -> dict:
    after = decode_cursor(cursor, (str,))
    with rt.database.transaction() as session:
        rows = ledger.groups(session, limit=limit + 1, after=after[0] if after else None)
    return page_of(rows, limit, lambda group: (group["group_id"],))


def get_group(rt: Points, group_id: str) -> dict:
    with rt.database.transaction() as session:
        found = ledger.groups(session, limit=1, group_id=group_id)
    if not found:
        raise NotFound(f"No community group {group_id}.")
    return found[0]


def donate(rt: Points, principal: Principal, *, member_id: str, group_id: str, points: int, key: str) -> dict:
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        refuse_if_erased(rt, session, member_id)
        posted = ledger.donate(session, member_id=member_id, group_id=group_id, points=points, key=key,
                               actor=principal.id)
        return _movement(session, posted, member_id, -points)
