"""One function per consumed event type: each runs inside the consumer's transaction."""
from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy.orm import Session

from rewards_shared.consumer import PermanentError
from rewards_shared.events import Event

from . import earnings, ledger

HOLD_TIMEOUT = timedelta(hours=int(os.environ.get("HOLD_TIMEOUT_HOURS", str(24 * 30))))


def journey_completed(session: Session, event: Event) -> None:
    earnings.credit_journey(session, event.load_data())


def journey_voided(session: Session, event: Event) -> None:
    earnings.void_journey(session, event.load_data())


def attendance_confirmed(session: Session, event: Event) -> None:
    earnings.confirm_attendance(session, event.load_data())


def _hold_id(redemption_id: str):
    return ledger.transfer_id("hold", redemption_id)


def redemption_requested(session: Session, event: Event) -> None:
    """Hold the reward's cost, or tell the saga why not."""
    data = event.load_data()
    member_id, redemption_id, cost = data["member_id"], data["redemption_id"], data["cost_points"]
    if ledger.is_erased(session, member_id):
        ledger.emit(session, "points.hold_rejected", member_id, redemption_id=redemption_id, points=cost,
                    reason="member_erased")
        return
    try:
        with session.begin_nested():
            posted = ledger.hold(session, member_id=member_id, points=cost, id=_hold_id(redemption_id),
                                 timeout_at=ledger.now() + HOLD_TIMEOUT, source_type="redemption",
                                 source_id=redemption_id, reason=data.get("reward_title"))
    except ledger.InsufficientPoints as refusal:
        ledger.emit(session, "points.hold_rejected", member_id, redemption_id=redemption_id, points=cost,
                    reason=f"insufficient_points: {refusal.detail}")
        return
    if posted.created:
        ledger.emit(session, "points.held", member_id, points=cost, transfer_id=str(posted.transfer.id),
                    redemption_id=redemption_id, source_type="redemption", source_id=redemption_id,
                    available=ledger.available_now(session, member_id))


def redemption_completed(session: Session, event: Event) -> None:
    data = event.load_data()
    hold_id = _hold_id(data["redemption_id"])
    if session.get(ledger.Transfer, hold_id) is None:
        raise PermanentError(f"redemption {data['redemption_id']} completed without a hold")
    resolution = ledger.resolution_of(session, hold_id)
    if resolution is not None:
        if resolution.code != "capture":
            raise PermanentError(f"redemption {data['redemption_id']} completed after its hold was released")
        return
    posted = ledger.capture(session, hold_id, id=ledger.transfer_id("capture", hold_id))
    ledger.emit(session, "points.captured", data["member_id"], points=posted.transfer.amount,
                transfer_id=str(posted.transfer.id), redemption_id=data["redemption_id"],
                source_type="redemption", source_id=data["redemption_id"])


def redemption_ended(session: Session, event: Event) -> None:
    """A cancelled or expired redemption gives its held points back."""
    data = event.load_data()
    hold_id = _hold_id(data["redemption_id"])
    if session.get(ledger.Transfer, hold_id) is None or ledger.resolution_of(session, hold_id) is not None:
        return
    reason = event.type.removeprefix("redemption.")
    posted = ledger.release(session, hold_id, id=ledger.transfer_id("release", hold_id), reason=reason)
    ledger.emit(session, "points.released", data["member_id"], points=posted.transfer.amount,
                transfer_id=str(posted.transfer.id), redemption_id=data["redemption_id"], reason=reason,
                source_type="redemption", source_id=data["redemption_id"],
                available=ledger.available_now(session, data["member_id"]))


HANDLERS = {
    "transit.journey.completed": journey_completed,
    "transit.journey.corrected": journey_completed,
    "transit.journey.voided": journey_voided,
    "volunteering.attendance.confirmed": attendance_confirmed,
    "redemption.requested": redemption_requested,
    "redemption.completed": redemption_completed,
    "redemption.cancelled": redemption_ended,
    "redemption.expired": redemption_ended,
}
