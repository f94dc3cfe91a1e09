"""Activities that earn (journeys, attendances) and their revisions.

An operator can correct or void a journey after we credited it; events can arrive again or late.
The earnings table remembers which revision of each activity the ledger reflects, so each revision
lands once, a newer one replaces an older one (reverse, then credit again), and a stale one is ignored.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.runtime import utc_now

from . import challenges, ledger, rules
from .models import Earning, Transfer


def _current(session: Session, source_type: str, source_id: str) -> Earning | None:
    return session.get(Earning, (source_type, source_id), with_for_update=True)


def _undo(session: Session, earning: Earning, reason: str) -> None:
    if earning.status == "credited" and earning.transfer_id is not None:
        original = session.get(Transfer, earning.transfer_id)
        ledger.reverse(session, original, cause=f"{earning.source_type}:{earning.source_id}:r{earning.revision}",
                       reason=reason)


def _record(session: Session, *, source_type: str, source_id: str, member_id: str, revision: int, status: str,
            transfer_id=None, points: int = 0, occurred_at: datetime | None = None, minutes: int | None = None):
    values = dict(member_id=member_id, revision=revision, status=status, transfer_id=transfer_id, points=points,
                  occurred_at=occurred_at, minutes=minutes)
    session.execute(insert(Earning).values(source_type=source_type, source_id=source_id, **values)
                    .on_conflict_do_update(index_elements=["source_type", "source_id"], set_=values))


def credit_journey(session: Session, journey: dict, *, at: datetime | None = None) -> None:
    """Credit a journey revision (completed or corrected), replacing what an older revision earned."""
    member_id, journey_id, revision = journey["member_id"], journey["journey_id"], journey["revision"]
    current = _current(session, "journey", journey_id)
    if current is not None and current.revision >= revision:
        return
    if ledger.is_erased(session, member_id):
        _record(session, source_type="journey", source_id=journey_id, member_id=member_id, revision=revision,
                status="erased", occurred_at=journey["started_at"])
        return
    if current is not None:
        _undo(session, current, reason=f"journey corrected (revision {revision})")
        current.status = "superseded"
        session.flush()
    ledger.ensure_member(session, member_id)
    award = rules.award_for_journey(session, member_id, journey)
    posted = None
    if award.points > 0:
        posted = ledger.earn(session, member_id=member_id, points=award.points, source_type="journey",
                             source_id=journey_id, cause=f"journey:{journey_id}:r{revision}",
                             rule_id=award.rule_id, rule_version=award.rule_version,
                             occurred_at=journey["started_at"], details={"breakdown": award.breakdown}, at=at)
    _record(session, source_type="journey", source_id=journey_id, member_id=member_id, revision=revision,
            status="credited" if posted else ("capped" if award.breakdown else "no_award"),
            transfer_id=posted.transfer.id if posted else None, points=award.points,
            occurred_at=journey["started_at"])
    challenges.record(session, challenges.journey(journey), at=at or utc_now())


def void_journey(session: Session, voided: dict, *, at: datetime | None = None) -> None:
    """Take back what a journey earned; a late, older revision will then be ignored."""
    journey_id, revision = voided["journey_id"], voided["revision"]
    current = _current(session, "journey", journey_id)
    if current is not None and current.revision >= revision:
        return
    if current is not None:
        _undo(session, current, reason=f"journey voided: {voided['reason']}")
    _record(session, source_type="journey", source_id=journey_id, member_id=voided["member_id"],
            revision=revision, status="voided", occurred_at=current.occurred_at if current else None)
    challenges.withdraw(session, f"journey:{journey_id}", voided["member_id"], at=at or utc_now())


def confirm_attendance(session: Session, attendance: dict, *, at: datetime | None = None) -> None:
    """Points for a confirmed attendance, by the volunteering rule; pending points become available."""
    member_id, attendance_id = attendance["member_id"], attendance["attendance_id"]
    current = _current(session, "attendance", attendance_id)
    if current is not None and current.status == "credited":
        return
    ledger.ensure_member(session, member_id)
    award = rules.award_for_attendance(session, member_id, started_at=attendance["checked_in_at"],
                                       minutes=attendance["minutes"])
    cause = f"attendance:{attendance_id}"
    ledger.settle_pending(session, member_id=member_id, cause=cause, confirmed=True, points=award.points,
                          rule_id=award.rule_id, rule_version=award.rule_version, at=at)
    earned = session.get(Transfer, ledger.transfer_id("earn", cause))
    _record(session, source_type="attendance", source_id=attendance_id, member_id=member_id, revision=1,
            status="credited", transfer_id=earned.id if earned else None, points=award.points,
            occurred_at=attendance["checked_in_at"], minutes=award.minutes)
    challenges.record(session, challenges.attendance(attendance), at=at or utc_now())
