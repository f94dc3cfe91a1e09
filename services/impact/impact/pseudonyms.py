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
        member_hash = self.member_hash(member_id)
        cache = session.info.setdefault("pseudonyms", {})
        if member_hash in cache:
            return cache[member_hash]
        found = session.execute(sa.select(Link.pseudonym).where(Link.member_hash == member_hash)).scalar()
        if found is None:
            if session.get(Erased, member_hash) is not None:
                cache[member_hash] = None
                return None
            candidate = uuid.uuid4()
            found = session.execute(insert(Link).values(member_hash=member_hash, pseudonym=candidate)
                                    .on_conflict_do_nothing().returning(Link.pseudonym)).scalar()
            if found is None:  # another worker linked the member first
                found = session.execute(sa.select(Link.pseudonym).where(Link.member_hash == member_hash)).scalar_one()
            session.execute(insert(Member).values(pseudonym=found, first_seen_on=day).on_conflict_do_nothing())
        cache[member_hash] = found
        return found

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
