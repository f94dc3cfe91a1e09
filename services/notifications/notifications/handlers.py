"""One function per consumed event type, run inside the consumer's transaction: they write the inbox item
and the delivery rows; sending happens later, in the dispatcher."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from rewards_shared.consumer import Batched, Registration
from rewards_shared.events import Event

from . import services
from .catalogue import NOTIFYING_EVENTS

if TYPE_CHECKING:
    from .bootstrap import Notifications


def build(rt: Notifications) -> dict[str, Registration]:
    available = frozenset(rt.channels)

    def notify(session: Session, events: list[Event]) -> None:
        services.notify(rt, session, [(event, event.load_data()) for event in events], channels=available,
                        at=rt.clock())

    def member_erased(session: Session, event: Event) -> None:
        services.erase_member(rt, session, event.load_data()["member_id"])

    def export_requested(session: Session, event: Event) -> None:
        services.answer_export(rt, session, event.load_data())

    # Every notifying event type reads the same way: the catalogue says what it means to its member.
    return {**dict.fromkeys(NOTIFYING_EVENTS, Batched(notify)), "member.erased": member_erased,
            "member.export_requested": export_requested}
