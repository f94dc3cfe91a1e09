"""One function per consumed event type; each files a pseudonymous fact inside the consumer's transaction."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from rewards_shared import exports
from rewards_shared.consumer import Batched, Handler, Registration
from rewards_shared.events import Event

from .facts import LEDGER_MOVEMENTS, Facts


def build(rt) -> dict[str, Registration]:
    facts: Facts = rt.facts

    def on(record: Callable) -> Handler:
        def handle(session: Session, event: Event) -> None:
            record(session, event.load_data(), at=event.time)
        return handle

    def journeys(session: Session, events: list[Event]) -> None:
        facts.journeys(session, [event.load_data() for event in events])

    def movements(session: Session, events: list[Event]) -> None:
        facts.movements(session, [(event.id, event.type, event.load_data(), event.time) for event in events])

    def erased(session: Session, event: Event) -> None:
        facts.erased(session, event.id, event.load_data(), at=event.time)

    def export_requested(session: Session, event: Event) -> None:
        request = event.load_data()
        exports.answer(session, service="impact", request=request,
                       part=facts.member_part(session, request["member_id"]))

    return {
        "member.export_requested": export_requested,
        "transit.journey.completed": Batched(journeys),
        "transit.journey.corrected": Batched(journeys),
        "transit.journey.voided": on(facts.journey_voided),
        "volunteering.attendance.confirmed": on(facts.attendance),
        "activity.recorded": on(facts.activity),
        "activity.corrected": on(facts.activity),
        "activity.voided": on(facts.activity_voided),
        "redemption.completed": on(facts.redemption_completed),
        "member.registered": on(facts.registered),
        "member.profile_updated": on(facts.profile),
        "member.erased": erased,
        **dict.fromkeys(LEDGER_MOVEMENTS, Batched(movements)),
    }
