"""Challenges: admin staff define them (they pay points, like earning rules); a member sees the live
ones with their progress, and a member-bound credential only its own."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from rewards_shared.auth import Principal
from rewards_shared.errors import Conflict, Invalid, NotFound
from rewards_shared.pagination import decode_cursor, page_of

from .. import challenges
from ..models import Challenge, ChallengeProgress
from .members import living_member

if TYPE_CHECKING:
    from ..bootstrap import Points

_COUNT_FIELDS, _STREAK_FIELDS = ("target",), ("period", "periods", "min_per_period")


def described(challenge: Challenge) -> dict:
    return {**{column.key: getattr(challenge, column.key) for column in Challenge.__table__.columns},
            "goal": challenges.goal(challenge)}


def _check(definition: dict) -> None:
    """The fields a kind needs, and no others; a filter the activity can be matched on."""
    wanted, unwanted = ((_COUNT_FIELDS, _STREAK_FIELDS) if definition["kind"] == "count"
                        else (_STREAK_FIELDS, _COUNT_FIELDS))
    for name in wanted:
        if definition.get(name) is None:
            raise Invalid(f"A {definition['kind']} challenge needs {name}.", field=name)
    for name in unwanted:
        if definition.get(name) is not None:
            raise Invalid(f"A {definition['kind']} challenge has no {name}.", field=name)
    if definition["ends_at"] <= definition["starts_at"]:
        raise Invalid("A challenge ends after it starts.", field="ends_at")
    challenges.check_filter(definition["activity"], definition["filter"])


def create_challenge(rt: Points, principal: Principal, **definition) -> dict:
    _check(definition)
    if definition["kind"] == "streak":
        definition.setdefault("min_per_period", 1)
    with rt.database.transaction() as session:
        if session.get(Challenge, definition["challenge_id"]) is not None:
            raise Conflict(f"Challenge {definition['challenge_id']} exists.", field="challenge_id")
        challenge = Challenge(**definition, created_by=principal.id, updated_at=rt.clock())
        session.add(challenge)
        session.flush()
        return described(challenge)


def list_challenges(rt: Points, *, limit: int, cursor: str | None, active: bool | None = None) -> dict:
    after = decode_cursor(cursor, (str,))
    query = sa.select(Challenge).order_by(Challenge.challenge_id).limit(limit + 1)
    if after:
        query = query.where(Challenge.challenge_id > after[0])
    if active is not None:
        query = query.where(Challenge.active.is_(active))
    with rt.database.transaction() as session:
        rows = [described(c) for c in session.execute(query).scalars()]
    return page_of(rows, limit, lambda c: (c["challenge_id"],))


def get_challenge(rt: Points, challenge_id: str) -> dict:
    with rt.database.transaction() as session:
        return described(_challenge(session, challenge_id))


def update_challenge(rt: Points, challenge_id: str, **changes) -> dict:
    """Title, description, end and whether it is live; what members' progress rests on stays."""
    with rt.database.transaction() as session:
        challenge = _challenge(session, challenge_id, for_update=True)
        if changes.get("ends_at") is not None and changes["ends_at"] <= challenge.starts_at:
            raise Invalid("A challenge ends after it starts.", field="ends_at")
        for name, value in changes.items():
            if value is not None:
                setattr(challenge, name, value)
        challenge.updated_at = rt.clock()
        session.flush()
        return described(challenge)


def _challenge(session, challenge_id: str, *, for_update: bool = False) -> Challenge:
    challenge = session.get(Challenge, challenge_id, with_for_update=for_update)
    if challenge is None:
        raise NotFound(f"No challenge {challenge_id}.")
    return challenge


def member_challenges(rt: Points, principal: Principal, member_id: str, *, limit: int, cursor: str | None) -> dict:
    """The challenges live now, soonest ending first, with how far the member has got in each."""
    principal.check_member(member_id)
    after = decode_cursor(cursor, (datetime, str))
    now = rt.clock()
    query = (sa.select(Challenge, ChallengeProgress)
             .outerjoin(ChallengeProgress, sa.and_(ChallengeProgress.challenge_id == Challenge.challenge_id,
                                                   ChallengeProgress.member_id == member_id))
             .where(Challenge.active, Challenge.starts_at <= now, Challenge.ends_at > now)
             .order_by(Challenge.ends_at, Challenge.challenge_id).limit(limit + 1))
    if after:
        query = query.where(sa.tuple_(Challenge.ends_at, Challenge.challenge_id) > sa.tuple_(*after))
    with rt.database.transaction() as session:
        living_member(rt, session, member_id)
        rows = [{**described(challenge), "progress": standing.progress if standing else 0,
                 "completed": bool(standing and standing.completed_at),
                 "completed_at": standing.completed_at if standing else None}
                for challenge, standing in session.execute(query)]
    return page_of(rows, limit, lambda c: (c["ends_at"], c["challenge_id"]))
