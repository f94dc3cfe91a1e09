"""Community groups and the points members give them."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.errors import NotFound

from ..models import Account, CommunityGroup, Member, Transfer
from .lots import debit_available
from .postings import Posted, available_now, emit, group_account, transfer_id


def add_group(session: Session, group_id: str, name: str) -> tuple[CommunityGroup, bool]:
    existing = session.get(CommunityGroup, group_id)
    if existing is not None:
        return existing, False
    group = CommunityGroup(group_id=group_id, name=name)
    session.add(group)
    session.execute(insert(Account).values(id=group_account(group_id), kind="community_group")
                    .on_conflict_do_nothing())
    session.flush()
    return group, True


def donate(session: Session, *, member_id: str, group_id: str, points: int, key: str, actor: str) -> Posted:
    if session.get(CommunityGroup, group_id) is None:
        raise NotFound(f"No community group {group_id}.", field="group_id")
    if session.get(Member, member_id) is None:
        raise NotFound(f"No member {member_id}.", field="member_id")
    posted = debit_available(session, member_id=member_id, amount=points, to_account=group_account(group_id),
                             code="donate", id=transfer_id("donate", key), actor=actor,
                             source_type="community_group", source_id=group_id)
    if posted.created:
        emit(session, "points.donated", member_id, points=points, transfer_id=str(posted.transfer.id),
             source_type="community_group", source_id=group_id, available=available_now(session, member_id))
    return posted


def groups(session: Session, *, limit: int, after: str | None = None, group_id: str | None = None) -> list[dict]:
    """Groups in id order, each with the points given to it and by how many members."""
    given = (sa.select(Transfer.credit_account_id.label("account"), sa.func.sum(Transfer.amount).label("points"),
                       sa.func.count(sa.distinct(Transfer.member_id)).label("donors"))
             .where(Transfer.code == "donate", Transfer.credit_account_id.like("group:%"))
             .group_by(Transfer.credit_account_id).subquery())
    query = (sa.select(CommunityGroup.group_id, CommunityGroup.name, CommunityGroup.created_at,
                       sa.func.coalesce(given.c.points, 0).label("points_received"),
                       sa.func.coalesce(given.c.donors, 0).label("donors"))
             .outerjoin(given, given.c.account == sa.func.concat("group:", CommunityGroup.group_id))
             .order_by(CommunityGroup.group_id).limit(limit))
    if after is not None:
        query = query.where(CommunityGroup.group_id > after)
    if group_id is not None:
        query = query.where(CommunityGroup.group_id == group_id)
    return [dict(row._mapping) for row in session.execute(query)]
