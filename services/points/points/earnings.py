"""Activities that earn (journeys, attendances, providers' activities) and their revisions, and the
challenges they count towards.

An operator can correct or void a journey after we credited it; events can arrive again or late.
The earnings table remembers which revision of each activity the ledger reflects, so each revision
lands once, a newer one replaces an older one (reverse, then credit again), and a stale one is ignored.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.runtime import utc_now

from . import challenges, ledger, referrals, rules
from .models import Earning, Transfer


def _current(session: Session, source_type: str, source_id: str) -> Earning | None:
    return session.get(Earning, (source_type, source_id), with_for_update=True)


def _undo(session: Session, earning: Earning, reason: str) -> None:
    if earning.status == "credited" and earning.transfer_id is not None:
        original = session.get(Transfer, earning.transfer_id)
        ledger.reverse(session, original, cause=f"{earning.source_type}:{earning.source_id}:r{earning.revision}",
                       reason=reason)


def _record(session: Session, *, source_type: str, source_id: str, member_id: str, revision: int, status: str,
            transfer_id=None, points: int = 0, occurred_at: datetime | None = None, minutes: int | None = None,
            activity_kind: str | None = None):
    values = dict(member_id=member_id, revision=revision, status=status, transfer_id=transfer_id, points=points,
                  occurred_at=occurred_at, minutes=minutes, activity_kind=activity_kind)
    session.execute(insert(Earning).values(source_type=source_type, source_id=source_id, **values)
                    .on_conflict_do_update(index_elements=["source_type", "source_id"], set_=values))


def _credit_revision(session: Session, *, source_type: str, source_id: str, member_id: str, revision: int,
                     occurred_at: datetime, award: Callable[[], rules.Award], activity_kind: str | None = None,
                     counts_towards: challenges.Activity | None = None, at: datetime | None = None) -> None:
    """Credit one revision of an activity, replacing what an older revision earned; a stale one is ignored."""
    current = _current(session, source_type, source_id)
    if current is not None and current.revision >= revision:
        return
    same = dict(source_type=source_type, source_id=source_id, member_id=member_id, revision=revision,
                occurred_at=occurred_at, activity_kind=activity_kind)
    if ledger.is_erased(session, member_id):
        _record(session, status="erased", **same)
        return
    if current is not None:
        _undo(session, current, reason=f"{source_type} corrected (revision {revision})")
        current.status = "superseded"
        session.flush()
    ledger.ensure_member(session, member_id)
    granted = award()
    posted = None
    if granted.points > 0:
        posted = ledger.earn(session, member_id=member_id, points=granted.points, source_type=source_type,
                             source_id=source_id, cause=f"{source_type}:{source_id}:r{revision}",
                             rule_id=granted.rule_id, rule_version=granted.rule_version, occurred_at=occurred_at,
                             details={"breakdown": granted.breakdown}, at=at)
    _record(session, status="credited" if posted else ("capped" if granted.breakdown else "no_award"),
            transfer_id=posted.transfer.id if posted else None, points=granted.points, **same)
    if counts_towards is not None:
        challenges.record(session, counts_towards, at=at or utc_now())
    if posted:
        referrals.reward_first_activity(session, member_id, at=at or occurred_at)


def _void(session: Session, *, source_type: str, source_id: str, member_id: str, revision: int, reason: str,
          at: datetime | None = None) -> None:
    """Take back what an activity earned; a late, older revision will then be ignored."""
    current = _current(session, source_type, source_id)
    if current is not None and current.revision >= revision:
        return
    if current is not None:
        _undo(session, current, reason=f"{source_type} voided: {reason}")
    _record(session, source_type=source_type, source_id=source_id, member_id=member_id, revision=revision,
            status="voided", occurred_at=current.occurred_at if current else None,
            activity_kind=current.activity_kind if current else None)
    challenges.withdraw(session, f"{source_type}:{source_id}", member_id, at=at or utc_now())


def credit_journey(session: Session, journey: dict, *, at: datetime | None = None) -> None:
    """Credit a journey revision (completed or corrected), replacing what an older revision earned."""
    _credit_revision(session, source_type="journey", source_id=journey["journey_id"], member_id=journey["member_id"],
                     revision=journey["revision"], occurred_at=journey["started_at"],
                     award=lambda: rules.award_for_journey(session, journey["member_id"], journey),
                     counts_towards=challenges.journey(journey), at=at)


def void_journey(session: Session, voided: dict, *, at: datetime | None = None) -> None:
    _void(session, source_type="journey", source_id=voided["journey_id"], member_id=voided["member_id"],
          revision=voided["revision"], reason=voided["reason"], at=at)


def activity_source_id(provider_id: str, activity_id: str) -> str:
    return f"{provider_id}:{activity_id}"


def credit_activity(session: Session, activity: dict, *, at: datetime | None = None) -> None:
    """Credit a provider's activity (recorded or corrected) by the activity rules."""
    _credit_revision(session, source_type="activity",
                     source_id=activity_source_id(activity["provider_id"], activity["activity_id"]),
                     member_id=activity["member_id"], revision=activity["revision"],
                     occurred_at=activity["occurred_at"], activity_kind=activity["kind"],
                     award=lambda: rules.award_for_activity(session, activity["member_id"], activity), at=at)


def void_activity(session: Session, voided: dict, *, at: datetime | None = None) -> None:
    _void(session, source_type="activity",
          source_id=activity_source_id(voided["provider_id"], voided["activity_id"]),
          member_id=voided["member_id"], revision=voided["revision"], reason=voided.get("reason") or "voided", at=at)


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
    if earned is not None:
        referrals.reward_first_activity(session, member_id, at=at or attendance["checked_in_at"])
