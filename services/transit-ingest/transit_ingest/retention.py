"""How long transit data is kept: raw taps for `TAP_RETENTION_DAYS` (default 90), operators' files only
until they are processed, and journeys older than the taps keep only what the ledger and the impact
figures rest on (no card, member, route or stops)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .journeys import IDENTIFYING_NONE
from .models import Feed, FeedError, Journey, Tap

BATCH = 10_000
FINISHED = ("done", "failed")


def forget_old_taps(session: Session, *, before: datetime) -> int:
    doomed = sa.select(Tap.operator_id, Tap.tap_id).where(Tap.occurred_at < before).limit(BATCH)
    return session.execute(sa.delete(Tap).where(sa.tuple_(Tap.operator_id, Tap.tap_id).in_(doomed))).rowcount


def minimise_old_journeys(session: Session, *, before: datetime) -> int:
    doomed = sa.select(Journey.id).where(Journey.started_at < before, Journey.card_hash.is_not(None)).limit(BATCH)
    return session.execute(sa.update(Journey).where(Journey.id.in_(doomed))
                           .values(member_id=None, **IDENTIFYING_NONE)).rowcount


def forget_feed_files(session: Session, *, before: datetime) -> int:
    """Files of finished feeds and large objects no feed refers to (an upload cut off half-way) go; so do
    the rejection reports of feeds finished before `before`. How many files."""
    session.execute(sa.update(Feed).where(Feed.status.in_(FINISHED), Feed.content_oid.is_not(None))
                    .values(content_oid=None))
    unlinked = session.execute(sa.text(
        "SELECT lo_unlink(m.oid) FROM pg_largeobject_metadata m "
        "WHERE NOT EXISTS (SELECT 1 FROM feeds f WHERE f.content_oid = m.oid)")).all()
    old = sa.select(Feed.id).where(Feed.status.in_(FINISHED), Feed.finished_at < before)
    session.execute(sa.delete(FeedError).where(FeedError.feed_id.in_(old)))
    return len(unlinked)
