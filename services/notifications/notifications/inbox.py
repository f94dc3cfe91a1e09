"""Writing to and reading from members' inboxes."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.events import Event

from .messages import COMPOSERS
from .models import InboxItem

NAMESPACE = uuid.UUID("8a6f0c52-1b7e-4f0e-b0a3-59c2a7d4e613")


def deliver(session: Session, event: Event) -> bool:
    """One inbox item per event, however often the event arrives."""
    composer = COMPOSERS.get(event.type)
    if composer is None or not event.subject:
        return False
    message = composer(event.load_data())
    stored = session.execute(insert(InboxItem).values(
        id=uuid.uuid5(NAMESPACE, event.id), member_id=event.subject, event_id=uuid.UUID(event.id),
        type=event.type, title=message.title, body=message.body,
    ).on_conflict_do_nothing().returning(InboxItem.id)).first()
    return stored is not None


def page(session: Session, member_id: str, *, limit: int, before_seq: int | None) -> list[InboxItem]:
    query = sa.select(InboxItem).where(InboxItem.member_id == member_id)
    if before_seq is not None:
        query = query.where(InboxItem.seq < before_seq)
    return list(session.execute(query.order_by(InboxItem.seq.desc()).limit(limit)).scalars())
