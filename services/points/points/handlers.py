"""One function per consumed event type: each runs inside the consumer's transaction."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from rewards_shared.consumer import Handler, PermanentError
from rewards_shared.events import Event

from . import earnings, services

if TYPE_CHECKING:
    from .bootstrap import Points


def build(rt: Points) -> dict[str, Handler]:
    def journey_completed(session: Session, event: Event) -> None:
        earnings.credit_journey(session, event.load_data(), at=rt.clock())

    def journey_voided(session: Session, event: Event) -> None:
        earnings.void_journey(session, event.load_data())

    def attendance_confirmed(session: Session, event: Event) -> None:
        earnings.confirm_attendance(session, event.load_data(), at=rt.clock())

    def redemption_requested(session: Session, event: Event) -> None:
        data = event.load_data()
        services.hold_for_redemption(session, member_id=data["member_id"], redemption_id=data["redemption_id"],
                                     points=data["cost_points"], reward_title=data.get("reward_title"),
                                     timeout_at=rt.clock() + rt.hold_timeout)

    def redemption_completed(session: Session, event: Event) -> None:
        data = event.load_data()
        try:
            services.capture_for_redemption(session, member_id=data["member_id"],
                                            redemption_id=data["redemption_id"])
        except services.OutOfOrder as refused:
            raise PermanentError(refused.detail) from refused

    def redemption_ended(session: Session, event: Event) -> None:
        """A cancelled or expired redemption gives its held points back."""
        data = event.load_data()
        services.release_for_redemption(session, member_id=data["member_id"], redemption_id=data["redemption_id"],
                                        reason=event.type.removeprefix("redemption."))

    return {
        "transit.journey.completed": journey_completed,
        "transit.journey.corrected": journey_completed,
        "transit.journey.voided": journey_voided,
        "volunteering.attendance.confirmed": attendance_confirmed,
        "redemption.requested": redemption_requested,
        "redemption.completed": redemption_completed,
        "redemption.cancelled": redemption_ended,
        "redemption.expired": redemption_ended,
    }
