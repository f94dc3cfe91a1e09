"""The points side of the redemption saga: hold the cost, then capture or release the hold."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from rewards_shared.errors import Conflict

from .. import ledger
from ..models import Transfer


class OutOfOrder(Conflict):
    """The saga's events can never apply as they stand (the worker dead-letters them)."""

    title = "Redemption out of order"


def _hold_id(redemption_id: str):
    return ledger.transfer_id("hold", redemption_id)


def hold_for_redemption(session: Session, *, member_id: str, redemption_id: str, points: int,
                        reward_title: str | None, timeout_at: datetime) -> None:
    """Hold the reward's cost, or tell the saga why not."""
    if ledger.is_erased(session, member_id):
        ledger.emit(session, "points.hold_rejected", member_id, redemption_id=redemption_id, points=points,
                    reason="member_erased")
        return
    try:
        with session.begin_nested():
            posted = ledger.hold(session, member_id=member_id, points=points, id=_hold_id(redemption_id),
                                 timeout_at=timeout_at, source_type="redemption", source_id=redemption_id,
                                 reason=reward_title)
    except ledger.InsufficientPoints as refusal:
        ledger.emit(session, "points.hold_rejected", member_id, redemption_id=redemption_id, points=points,
                    reason=f"insufficient_points: {refusal.detail}")
        return
    if posted.created:
        ledger.emit(session, "points.held", member_id, points=points, transfer_id=str(posted.transfer.id),
                    redemption_id=redemption_id, source_type="redemption", source_id=redemption_id,
                    available=ledger.available_now(session, member_id))


def capture_for_redemption(session: Session, *, member_id: str, redemption_id: str) -> None:
    hold_id = _hold_id(redemption_id)
    if session.get(Transfer, hold_id) is None:
        raise OutOfOrder(f"redemption {redemption_id} completed without a hold")
    resolution = ledger.resolution_of(session, hold_id)
    if resolution is not None:
        if resolution.code != "capture":
            raise OutOfOrder(f"redemption {redemption_id} completed after its hold was released")
        return
    posted = ledger.capture(session, hold_id, id=ledger.transfer_id("capture", hold_id))
    ledger.emit(session, "points.captured", member_id, points=posted.transfer.amount,
                transfer_id=str(posted.transfer.id), redemption_id=redemption_id,
                source_type="redemption", source_id=redemption_id)


def release_for_redemption(session: Session, *, member_id: str, redemption_id: str, reason: str) -> None:
    """A redemption that ended without being used gives its held points back (once)."""
    hold_id = _hold_id(redemption_id)
    if session.get(Transfer, hold_id) is None or ledger.resolution_of(session, hold_id) is not None:
        return
    posted = ledger.release(session, hold_id, id=ledger.transfer_id("release", hold_id), reason=reason)
    ledger.emit(session, "points.released", member_id, points=posted.transfer.amount,
                transfer_id=str(posted.transfer.id), redemption_id=redemption_id, reason=reason,
                source_type="redemption", source_id=redemption_id,
                available=ledger.available_now(session, member_id))
