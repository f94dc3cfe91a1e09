"""What every service does the same way when a member is erased (`member.erased`).

- A **tombstone** remembers that an id was erased, so late events for it write nothing and the id is
  never taken again. It holds a keyed HMAC of the id (`ERASURE_KEY`, never in the database), not the
  id: a copy of a database cannot even confirm whether somebody was a member.
- A **pseudonym** (`erased-…`, random) takes the member's place in records that must stay, such as
  the ledger's transfers: the amounts remain and add up, and nothing ties them to a person.
- Stored replies to `Idempotency-Key` requests that name the member are forgotten.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from .config import Settings
from .db import idempotency_keys

log = logging.getLogger(__name__)
PSEUDONYM_PREFIX = "erased-"


def tombstone_table(metadata: sa.MetaData) -> sa.Table:
    """The service's `erased_members` table, on its own metadata (its migrations create it)."""
    return sa.Table(
        "erased_members", metadata,
        sa.Column("marker", sa.Text, primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def create_tombstone_table(op) -> None:
    op.create_table(
        "erased_members",
        sa.Column("marker", sa.Text(), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )


class Tombstones:
    """Markers of erased member ids in one service's `erased_members` table."""

    def __init__(self, table: sa.Table, key: str | None):
        self.table = table
        self._key = key.strip().encode() if key else None

    @classmethod
    def from_settings(cls, table: sa.Table, settings: Settings) -> Tombstones:
        key = settings.get_secret("ERASURE_KEY")
        if not key:
            log.warning("ERASURE_KEY is not set: tombstones of erased members are plain SHA-256 of their ids")
        return cls(table, key)

    def marker(self, member_id: str) -> str:
        if self._key is None:
            return hashlib.sha256(b"erased-member\n" + member_id.encode()).hexdigest()
        return hmac.new(self._key, member_id.encode(), hashlib.sha256).hexdigest()

    def is_erased(self, session: Session | sa.Connection, member_id: str) -> bool:
        return session.execute(sa.select(sa.literal(1)).where(
            self.table.c.marker == self.marker(member_id))).first() is not None

    def erased_among(self, session: Session | sa.Connection, member_ids) -> set[str]:
        """Which of `member_ids` were erased (pseudonyms count as erased), in one query."""
        markers = {self.marker(m): m for m in set(member_ids) if not m.startswith(PSEUDONYM_PREFIX)}
        found = session.execute(sa.select(self.table.c.marker).where(
            self.table.c.marker.in_(list(markers)))).scalars() if markers else []
        return {m for m in member_ids if m.startswith(PSEUDONYM_PREFIX)} | {markers[marker] for marker in found}

    def bury(self, session: Session, member_id: str) -> bool:
        """Record the erasure, and forget the stored replies that name the member; True the first time."""
        buried = session.execute(insert(self.table).values(marker=self.marker(member_id))
                                 .on_conflict_do_nothing().returning(self.table.c.marker)).first() is not None
        if buried:
            forget_requests(session, member_id)
        return buried


def new_pseudonym() -> str:
    """Random, so nothing derived from the member id can lead back to them."""
    return PSEUDONYM_PREFIX + uuid.uuid4().hex[:20]


def forget_requests(session: Session, member_id: str) -> int:
    """Stored `Idempotency-Key` replies made by the member's own credentials, or naming them."""
    quoted = _like_literal(member_id)
    result = session.execute(idempotency_keys.delete().where(sa.or_(
        idempotency_keys.c.principal == f"member:{member_id}",
        idempotency_keys.c.path.like(f"%/{quoted}/%", escape="\\"),
        idempotency_keys.c.path.like(f"%/{quoted}", escape="\\"),
        sa.cast(idempotency_keys.c.response, sa.Text).like(f'%\\\\"{quoted}\\\\"%', escape="\\"))))
    return result.rowcount


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
