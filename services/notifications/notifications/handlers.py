"""One function per consumed event type, run inside the consumer's transaction: they write the inbox item
and the delivery rows; sending happens later, in the dispatcher."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from rewards_shared.events import Event

from . import deliveries, inbox, members
from .catalogue import NOTIFYING_EVENTS, notice_for


def _now() -> datetime:
    return datetime.now(UTC)


def build(available_channels: Iterable[str] = (), clock: Callable[[], datetime] = _now) -> dict:
    """The handlers for a worker whose configured channels are `available_channels`."""
    available = frozenset(available_channels)

    def notify(session: Session, event: Event) -> None:
        data = event.load_data()
        member_id = data["member_id"]
        notice = notice_for(event.type, data)
        if notice is None or members.is_erased(session, member_id):
            return
        document = members.preferences_of(session, member_id)
        if not inbox.deliver(session, event, member_id, notice, document):
            return
        planned = deliveries.plan(notice, document, members.contacts(session, member_id), available, clock())
        deliveries.enqueue(session, source=event.id, member_id=member_id, kind=notice.kind.name,
                           locale=document["locale"], context=notice.context, planned=planned)

    def erase(session: Session, event: Event) -> None:
        members.erase(session, event.load_data()["member_id"])

    return {**{event_type: notify for event_type in NOTIFYING_EVENTS}, "member.erased": erase}

