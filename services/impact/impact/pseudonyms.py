"""From a member id to a pseudonym, and the erasure that cuts the link for good."""
from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from .models import Erased, Link, Member


class Pseudonyms:
    """Keyed HMAC of member ids (the key comes from configuration, never the database), mapped to
    random pseudonyms. A copy of the database without the key cannot test whether a person is in it."""

    def __init__(self, key: str):
        if not key or len(key) < 16:
            raise ValueError("IMPACT_PSEUDONYM_KEY must be set (at least 16 characters)")
        self._key = key.strip().encode()

    def member_hash(self, member_id: str) -> str:
        return hmac.new(self._key, member_id.encode(), hashlib.sha256).hexdigest()

    def resolve(self, session: Session, member_id: str, *, day: date) -> uuid.UUID | None:
        """The member's pseudonym, made on first sight; None for an erased member (their events are dropped)."""
        return self.resolve_all(session, [(member_id, day)])[member_id]

    def resolve_all(self, session: Session, sightings: list[tuple[str, date]]) -> dict[str, uuid.UUID | None]:
        """`resolve` for many members at once, in a few statements whatever their number; a member first
        seen here is first seen on the day of their first sighting in the list."""
        cache = session.info.setdefault("pseudonyms", {})
        hashes = {member_id: self.member_hash(member_id) for member_id, _ in sightings}
        first_day: dict[str, date] = {}
        for member_id, day in sightings:
            if hashes[member_id] not in cache:
                first_day.setdefault(hashes[member_id], day)
        if first_day:
            wanted = sorted(first_day)
            cache.update(session.execute(sa.select(Link.member_hash, Link.pseudonym)
                                         .where(Link.member_hash.in_(wanted))).all())
            unknown = [h for h in wanted if h not in cache]
            erased = set(session.execute(sa.select(Erased.member_hash).where(Erased.member_hash.in_(unknown)))
                         .scalars()) if unknown else set()
            cache.update(dict.fromkeys(erased))
            new = [h for h in unknown if h not in erased]
            if new:
                made = dict(session.execute(
                    insert(Link).values([{"member_hash": h, "pseudonym": uuid.uuid4()} for h in new])
                    .on_conflict_do_nothing().returning(Link.member_hash, Link.pseudonym)).all())
                raced = [h for h in new if h not in made]  # another worker linked them first
                if raced:
                    made.update(session.execute(sa.select(Link.member_hash, Link.pseudonym)
                                                .where(Link.member_hash.in_(raced))).all())
                session.execute(insert(Member).values([{"pseudonym": made[h], "first_seen_on": first_day[h]}
                                                       for h in new]).on_conflict_do_nothing())
                cache.update(made)
        return {member_id: cache[member_hash] for member_id, member_hash in hashes.items()}

    def linked(self, session: Session, member_id: str) -> uuid.UUID | None:
        """The member's pseudonym if they have one and are not erased (never makes one)."""
        return session.execute(sa.select(Link.pseudonym).where(Link.member_hash == self.member_hash(member_id))
                               ).scalar()

    def erase(self, session: Session, member_id: str) -> bool:
        """Cut the link; True the first time. The pseudonym's facts stay and can never be tied to anyone again."""
        member_hash = self.member_hash(member_id)
        session.info.setdefault("pseudonyms", {})[member_hash] = None
        pseudonym = session.execute(sa.delete(Link).where(Link.member_hash == member_hash)
                                    .returning(Link.pseudonym)).scalar()
        session.execute(insert(Erased).values(member_hash=member_hash).on_conflict_do_nothing())
        if pseudonym is not None:
            session.execute(sa.update(Member).where(Member.pseudonym == pseudonym).values(erased=True))
        return pseudonym is not None
