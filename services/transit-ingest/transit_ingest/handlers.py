"""One function per consumed event type, run inside the consumer's transaction."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from rewards_shared.consumer import Handler
from rewards_shared.events import Event

from . import services

if TYPE_CHECKING:
    from .bootstrap import TransitIngest


def build(rt: TransitIngest) -> dict[str, Handler]:
    def member_erased(session: Session, event: Event) -> None:
        services.forget_member(rt, session, event.load_data()["member_id"])

    def export_requested(session: Session, event: Event) -> None:
        services.answer_export(rt, session, event.load_data())

    return {"member.erased": member_erased, "member.export_requested": export_requested}
