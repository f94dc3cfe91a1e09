"""Writing to and reading from members' inboxes."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.errors import NotFound
from rewards_shared.events import Event

from .catalogue import Notice
from .models import InboxItem
from .templates import default_templates

NAMESPACE = uuid.UUID("8a6f0c52-1b7e-4f0e-b0a3-59c2a7d4e613")


def deliver(session: Session, event: Event, member_id: str, notice: Notice, preferences: dict) -> bool:
    """One inbox item per event, however often the event arrives; False when it was already there."""
    return bool(deliver_all(session, [(event, member_id, notice, preferences)]))


def deliver_all(session: Session, items: list[tuple[Event, str, Notice, dict]]) -> set[str]:
    """`deliver` for many events in one statement: the ids of the events whose items are new."""
    if not items:
        return set()
    templates = default_templates()
    rows = []
    for event, member_id, notice, preferences in items:
        rendered = templates.render(notice.kind.name, notice.context, preferences["locale"], preferences["time_zone"])
        rows.append(dict(id=uuid.uuid5(NAMESPACE, event.id), member_id=member_id, event_id=uuid.UUID(event.id),
                         type=event.type, title=rendered.title, body=rendered.body))
    stored = session.execute(_ITEMS, rows)
    return {str(event_id) for event_id in stored.scalars()}


# Executed with a list of rows: compiled once, sent as multi-row INSERTs.
_ITEMS = insert(InboxItem.__table__).on_conflict_do_nothing().returning(InboxItem.__table__.c.event_id)


def page(session: Session, member_id: str, *, limit: int, before_seq: int | None,
         unread_only: bool = False) -> list[InboxItem]:
    query = sa.select(InboxItem).where(InboxItem.member_id == member_id)
    if unread_only:
        query = query.where(InboxItem.read_at.is_(None))
    if before_seq is not None:
        query = query.where(InboxItem.seq < before_seq)
    return list(session.execute(query.order_by(InboxItem.seq.desc()).limit(limit)).scalars())


def unread_count(session: Session, member_id: str) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(InboxItem)
                           .where(InboxItem.member_id == member_id, InboxItem.read_at.is_(None))).scalar_one()


def mark_read(session: Session, member_id: str, item_id: uuid.UUID, *, at: datetime) -> InboxItem:
    """Reading twice keeps the first time it was read."""
    item = session.execute(sa.select(InboxItem).where(InboxItem.id == item_id, InboxItem.member_id == member_id)
                           .with_for_update()).scalar_one_or_none()
    if item is None:
        raise NotFound(f"Member {member_id} has no notification {item_id}.")
    if item.read_at is None:
        item.read_at = at
    return item


def mark_all_read(session: Session, member_id: str, *, at: datetime) -> int:
    result = session.execute(sa.update(InboxItem).where(InboxItem.member_id == member_id, InboxItem.read_at.is_(None))
                             .values(read_at=at))
    return result.rowcount
