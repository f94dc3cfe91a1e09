"""Ledger events the redemption saga reacts to, and members' erasure and subject access requests; each
runs inside the consumer's transaction.

Events about redemptions this service does not know are ignored, and every transition is
guarded by the state it leaves, so a redelivery or a re-run after a crash changes nothing."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from rewards_shared.consumer import Batched, Registration
from rewards_shared.events import Event

from . import redemptions, services

if TYPE_CHECKING:
    from .bootstrap import RedemptionRuntime


def _redemption_id(data: dict) -> uuid.UUID | None:
    try:
        return uuid.UUID(data.get("redemption_id") or "")
    except ValueError:
        return None


def build(rt: RedemptionRuntime) -> dict[str, Registration]:
    def points_held(session: Session, events: list[Event]) -> None:
        loaded = [event.load_data() for event in events]
        redemptions.issue_all(session, rt.voucher_key, [(redemption_id, data.get("transfer_id")) for data in loaded
                                                        if (redemption_id := _redemption_id(data)) is not None],
                              at=rt.clock())

    def hold_rejected(session: Session, events: list[Event]) -> None:
        loaded = [event.load_data() for event in events]
        redemptions.reject_all(session, [(redemption_id, data["reason"]) for data in loaded
                                         if (redemption_id := _redemption_id(data)) is not None])

    def points_released(session: Session, event: Event) -> None:
        """The ledger let a hold go by itself (its safety-net timeout): the voucher dies with it.

        Releases we asked for (cancel, expiry) find the redemption already final and change nothing."""
        data = event.load_data()
        if (redemption_id := _redemption_id(data)) is not None:
            redemptions.expire(session, redemption_id, f"hold_released: {data.get('reason') or 'unknown'}")

    def member_erased(session: Session, event: Event) -> None:
        services.forget_member(rt, session, event.load_data()["member_id"])

    def export_requested(session: Session, event: Event) -> None:
        services.answer_export(rt, session, event.load_data())

    return {
        "member.erased": member_erased,
        "member.export_requested": export_requested,
        "points.held": Batched(points_held),
        "points.hold_rejected": Batched(hold_rejected),
        "points.released": points_released,
    }
