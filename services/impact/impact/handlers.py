"""One function per consumed event type; each files a pseudonymous fact inside the consumer's transaction."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from rewards_shared import exports
from rewards_shared.consumer import Handler
from rewards_shared.events import Event

from .facts import LEDGER_MOVEMENTS, Facts


def build(rt) -> dict[str, Handler]:
    facts: Facts = rt.facts

    def on(record: Callable) -> Handler:
        def handle(session: Session, event: Event) -> None:
            record(session, event.load_data(), at=event.time)
        return handle

    def movement(session: Session, event: Event) -> None:
        facts.movement(session, event.id, event.type, event.load_data(), at=event.time)

    def erased(session: Session, event: Event) -> None:
        facts.erased(session, event.id, event.load_data(), at=event.time)

    def export_requested(session: Session, event: Event) -> None:
        request = event.load_data()
        exports.answer(session, service="impact", request=request,
                       part=facts.member_part(session, request["member_id"]))

    return {
        "member.export_requested": export_requested,
        "transit.journey.completed": on(facts.journey),
        "transit.journey.corrected": on(facts.journey),
        "transit.journey.voided": on(facts.journey_voided),
        "volunteering.attendance.confirmed": on(facts.attendance),
        "activity.recorded": on(facts.activity),
        "activity.corrected": on(facts.activity),
        "activity.voided": on(facts.activity_voided),
        "redemption.completed": on(facts.redemption_completed),
        "member.registered": on(facts.registered),
        "member.profile_updated": on(facts.profile),
        "member.erased": erased,
        **{event_type: movement for event_type in LEDGER_MOVEMENTS},
    }
