"""One function per consumed event type, run inside the consumer's transaction."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from rewards_shared.consumer import Handler
from rewards_shared.events import Event

from . import links

if TYPE_CHECKING:
    from .bootstrap import TransitIngest


def build(rt: TransitIngest) -> dict[str, Handler]:
    def member_erased(session: Session, event: Event) -> None:
        links.forget_member(session, event.load_data()["member_id"], now=rt.clock())

    return {"member.erased": member_erased}
