"""One function per consumed event type: each runs inside the consumer's transaction.

An event for an erased member (or for the pseudonym that replaced them) changes nothing: a journey,
a provider's activity or an attendance confirmed after the erasure credits no one, a hold is never made."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from rewards_shared.consumer import Batched, PermanentError, Registration
from rewards_shared.events import Event

from . import earnings, services

if TYPE_CHECKING:
    from .bootstrap import Points


def build(rt: Points) -> dict[str, Registration]:
    def living(session: Session, events: list[Event]) -> list[tuple[dict, Event]]:
        """The events' data, leaving out those of erased members (one query for the lot)."""
        loaded = [(event.load_data(), event) for event in events]
        erased = rt.tombstones.erased_among(session, {data["member_id"] for data, _ in loaded})
        return [(data, event) for data, event in loaded if data["member_id"] not in erased]

    def for_living_members(handle):
        def guarded(session: Session, event: Event) -> None:
            for data, _ in living(session, [event]):
                handle(session, data, event)
        return guarded

    def journeys_completed(session: Session, events: list[Event]) -> None:
        earnings.credit_journeys(session, [data for data, _ in living(session, events)], at=rt.clock())

    def journey_voided(session: Session, data: dict, event: Event) -> None:
        earnings.void_journey(session, data, at=rt.clock())

    def activities_recorded(session: Session, events: list[Event]) -> None:
        earnings.credit_activities(session, [data for data, _ in living(session, events)], at=rt.clock())

    def activity_voided(session: Session, data: dict, event: Event) -> None:
        earnings.void_activity(session, data)

    def attendance_confirmed(session: Session, data: dict, event: Event) -> None:
        earnings.confirm_attendance(session, data, at=rt.clock())

    def redemption_requested(session: Session, data: dict, event: Event) -> None:
        services.hold_for_redemption(session, member_id=data["member_id"], redemption_id=data["redemption_id"],
                                     points=data["cost_points"], reward_title=data.get("reward_title"),
                                     timeout_at=rt.clock() + rt.hold_timeout)

    def redemption_completed(session: Session, data: dict, event: Event) -> None:
        try:
            services.capture_for_redemption(session, member_id=data["member_id"],
                                            redemption_id=data["redemption_id"])
        except services.OutOfOrder as refused:
            raise PermanentError(refused.detail) from refused

    def redemption_ended(session: Session, data: dict, event: Event) -> None:
        """A cancelled or expired redemption gives its held points back."""
        services.release_for_redemption(session, member_id=data["member_id"], redemption_id=data["redemption_id"],
                                        reason=event.type.removeprefix("redemption."))

    def export_requested(session: Session, event: Event) -> None:
        services.answer_export(rt, session, event.load_data())

    def export_part(session: Session, event: Event) -> None:
        services.collect_part(session, event.load_data(), at=rt.clock())

    return {
        "transit.journey.completed": Batched(journeys_completed),
        "transit.journey.corrected": Batched(journeys_completed),
        "transit.journey.voided": for_living_members(journey_voided),
        "volunteering.attendance.confirmed": for_living_members(attendance_confirmed),
        "activity.recorded": Batched(activities_recorded),
        "activity.corrected": Batched(activities_recorded),
        "activity.voided": for_living_members(activity_voided),
        "redemption.requested": for_living_members(redemption_requested),
        "redemption.completed": for_living_members(redemption_completed),
        "redemption.cancelled": for_living_members(redemption_ended),
        "redemption.expired": for_living_members(redemption_ended),
        "member.export_requested": export_requested,
        "member.export_part": export_part,
    }
