"""Activities that earn (journeys, attendances, providers' activities) and their revisions, and the
challenges they count towards.

An operator can correct or void a journey after we credited it; events can arrive again or late.
The earnings table remembers which revision of each activity the ledger reflects, so each revision
lands once, a newer one replaces an older one (reverse, then credit again), and a stale one is ignored.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
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


def credit_journey(session: Session, journey: dict, *, at: datetime | None = None) -> None:
    """Credit a journey revision (completed or corrected), replacing what an older revision earned."""
    credit_journeys(session, [journey], at=at)


def credit_journeys(session: Session, journeys: list[dict], *, at: datetime | None = None) -> None:
    """Credit journey revisions in order, with the results of crediting them one after another (caps
    count the batch's earlier journeys; a repeat or an older revision changes nothing), in a constant
    number of statements. Only a revision replacing one already credited splits the batch: what came
    before is written, the older credit reversed, and the rest credited from there."""
    while journeys:
        journeys = _credit_until_reversal(session, journeys, at)


_upsert = insert(Earning.__table__)
_RECORDS = _upsert.on_conflict_do_update(
    index_elements=["source_type", "source_id"],
    set_={k: _upsert.excluded[k] for k in ("member_id", "revision", "status", "transfer_id", "points", "occurred_at",
                                           "minutes")}).returning(_upsert.table.c.source_id)


@dataclass
class _Known:
    """What the earnings table says of a journey, as the batch changes it."""
    source_type: str
    source_id: str
    member_id: str
    revision: int
    status: str
    transfer_id: uuid.UUID | None
    occurred_at: datetime | None


def _credit_until_reversal(session: Session, journeys: list[dict], at: datetime | None) -> list[dict]:
    """Credit journeys up to the first that replaces a credited revision; the journeys left over."""
    known = {row.source_id: _Known(*row) for row in session.execute(
        sa.select(Earning.source_type, Earning.source_id, Earning.member_id, Earning.revision, Earning.status,
                  Earning.transfer_id, Earning.occurred_at)
        .where(Earning.source_type == "journey", Earning.source_id.in_(sorted({j["journey_id"] for j in journeys})))
        .order_by(Earning.source_id).with_for_update())}
    fresh = [j for j in journeys if j["journey_id"] not in known or known[j["journey_id"]].revision < j["revision"]]
    erased = ledger.erased_among(session, {j["member_id"] for j in fresh})
    members = {j["member_id"] for j in fresh} - erased
    ledger.ensure_members(session, members)
    credited = rules.Credited.for_journeys(session, [j for j in fresh if j["member_id"] in members])
    credits: list[ledger.Credit] = []
    records: dict[str, dict] = {}
    left: list[dict] = []
    for index, journey in enumerate(journeys):
        member_id, journey_id, revision = journey["member_id"], journey["journey_id"], journey["revision"]
        current = known.get(journey_id)
        if current is not None and current.revision >= revision:
            continue
        status, points, transfer = "erased", 0, None
        if member_id not in erased:
            if current is not None and current.status == "credited" and current.transfer_id is not None:
                left = journeys[index:]
                break
            award = rules.award_for_journey(session, member_id, journey, credited)
            points = award.points
            status = "credited" if points > 0 else ("capped" if award.breakdown else "no_award")
            if points > 0:
                cause = f"journey:{journey_id}:r{revision}"
                credits.append(ledger.Credit(
                    member_id=member_id, points=points, source_type="journey", source_id=journey_id, cause=cause,
                    rule_id=award.rule_id, rule_version=award.rule_version, occurred_at=journey["started_at"],
                    details={"breakdown": award.breakdown}))
                transfer = ledger.transfer_id("earn", cause)
                credited.set(member_id, journey_id, journey["started_at"])
        known[journey_id] = _Known("journey", journey_id, member_id, revision, status, transfer,
                                   journey["started_at"])
        records[journey_id] = dict(source_type="journey", source_id=journey_id, member_id=member_id,
                                   revision=revision, status=status, transfer_id=transfer, points=points,
                                   occurred_at=journey["started_at"], minutes=None)
    ledger.earn_all(session, credits, at=at)
    if records:
        session.execute(_RECORDS, list(records.values()))
    _afterwards(session, [j for j in journeys[:len(journeys) - len(left)] if j["journey_id"] in records
                          and records[j["journey_id"]]["revision"] == j["revision"]
                          and records[j["journey_id"]]["status"] != "erased"], records, at)
    if left:
        replaced = known[left[0]["journey_id"]]
        _undo(session, replaced, reason=f"journey corrected (revision {left[0]['revision']})")
        session.execute(sa.update(Earning).where(Earning.source_type == "journey",
                                                 Earning.source_id == replaced.source_id)
                        .values(status="superseded").execution_options(synchronize_session=False))
    return left


def _afterwards(session: Session, journeys: list[dict], records: dict[str, dict], at: datetime | None) -> None:
    """What crediting a journey sets off beyond the ledger: it counts towards the member's live challenges,
    and a first credited activity pays a pending referral."""
    for journey in journeys:
        challenges.record(session, challenges.journey(journey), at=at or utc_now())
        if records[journey["journey_id"]]["points"] > 0:
            referrals.reward_first_activity(session, journey["member_id"], at=at or journey["started_at"])


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
