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


@dataclass(frozen=True)
class _Source:
    """How a kind of activity that earns by the rules is read: its id, when it happened, how the rules
    award it (with what the batch has credited so far), and how it counts towards challenges."""
    source_type: str
    source_id: Callable[[dict], str]
    occurred_at: Callable[[dict], datetime]
    kind: Callable[[dict], str | None]
    credited: Callable[[Session, list[dict]], rules.Credited]
    award: Callable[[Session, str, dict, rules.Credited], rules.Award]
    counts_as: Callable[[dict], challenges.Activity]


def activity_source_id(provider_id: str, activity_id: str) -> str:
    return f"{provider_id}:{activity_id}"


JOURNEYS = _Source("journey", lambda j: j["journey_id"], lambda j: j["started_at"], lambda j: None,
                   rules.Credited.for_journeys, rules.award_for_journey, challenges.journey)
ACTIVITIES = _Source("activity", lambda a: activity_source_id(a["provider_id"], a["activity_id"]),
                     lambda a: a["occurred_at"], lambda a: a["kind"], rules.Credited.for_activities,
                     rules.award_for_activity, challenges.provider_activity)


def credit_journey(session: Session, journey: dict, *, at: datetime | None = None) -> None:
    """Credit a journey revision (completed or corrected), replacing what an older revision earned."""
    credit_all(session, JOURNEYS, [journey], at=at)


def credit_journeys(session: Session, journeys: list[dict], *, at: datetime | None = None) -> None:
    credit_all(session, JOURNEYS, journeys, at=at)


def credit_activities(session: Session, activities: list[dict], *, at: datetime | None = None) -> None:
    """Credit providers' activities (recorded or corrected) by the activity rules."""
    credit_all(session, ACTIVITIES, activities, at=at)


def credit_all(session: Session, source: _Source, items: list[dict], *, at: datetime | None = None) -> None:
    """Credit revisions of journeys or activities in order, with the results of crediting them one after
    another (caps count the batch's earlier credits; a repeat or an older revision changes nothing), in a
    constant number of statements. Only a revision replacing one already credited splits the batch: what
    came before is written, the older credit reversed, and the rest credited from there."""
    while items:
        items = _credit_until_reversal(session, source, items, at)


_upsert = insert(Earning.__table__)
_RECORDS = _upsert.on_conflict_do_update(
    index_elements=["source_type", "source_id"],
    set_={k: _upsert.excluded[k] for k in ("member_id", "revision", "status", "transfer_id", "points", "occurred_at",
                                           "minutes", "activity_kind")}).returning(_upsert.table.c.source_id)


@dataclass
class _Known:
    """What the earnings table says of an activity, as the batch changes it."""
    source_type: str
    source_id: str
    member_id: str
    revision: int
    status: str
    transfer_id: uuid.UUID | None
    occurred_at: datetime | None


def _credit_until_reversal(session: Session, source: _Source, items: list[dict], at: datetime | None) -> list[dict]:
    """Credit items up to the first that replaces a credited revision; the items left over."""
    ids = [source.source_id(item) for item in items]
    known = {row.source_id: _Known(*row) for row in session.execute(
        sa.select(Earning.source_type, Earning.source_id, Earning.member_id, Earning.revision, Earning.status,
                  Earning.transfer_id, Earning.occurred_at)
        .where(Earning.source_type == source.source_type, Earning.source_id.in_(sorted(set(ids))))
        .order_by(Earning.source_id).with_for_update())}
    fresh = [item for item, id_ in zip(items, ids, strict=True)
             if id_ not in known or known[id_].revision < item["revision"]]
    erased = ledger.erased_among(session, {item["member_id"] for item in fresh})
    members = {item["member_id"] for item in fresh} - erased
    ledger.ensure_members(session, members)
    credited = source.credited(session, [item for item in fresh if item["member_id"] in members])
    credits: list[ledger.Credit] = []
    records: dict[str, dict] = {}
    left: list[dict] = []
    for index, (item, source_id) in enumerate(zip(items, ids, strict=True)):
        member_id, revision = item["member_id"], item["revision"]
        occurred_at, kind = source.occurred_at(item), source.kind(item)
        current = known.get(source_id)
        if current is not None and current.revision >= revision:
            continue
        status, points, transfer = "erased", 0, None
        if member_id not in erased:
            if current is not None and current.status == "credited" and current.transfer_id is not None:
                left = items[index:]
                break
            award = source.award(session, member_id, item, credited)
            points = award.points
            status = "credited" if points > 0 else ("capped" if award.breakdown else "no_award")
            if points > 0:
                cause = f"{source.source_type}:{source_id}:r{revision}"
                credits.append(ledger.Credit(
                    member_id=member_id, points=points, source_type=source.source_type, source_id=source_id,
                    cause=cause, rule_id=award.rule_id, rule_version=award.rule_version, occurred_at=occurred_at,
                    details={"breakdown": award.breakdown}))
                transfer = ledger.transfer_id("earn", cause)
                credited.set(member_id, source_id, occurred_at, kind)
        known[source_id] = _Known(source.source_type, source_id, member_id, revision, status, transfer, occurred_at)
        records[source_id] = dict(source_type=source.source_type, source_id=source_id, member_id=member_id,
                                  revision=revision, status=status, transfer_id=transfer, points=points,
                                  occurred_at=occurred_at, minutes=None, activity_kind=kind)
    ledger.earn_all(session, credits, at=at)
    if records:
        session.execute(_RECORDS, list(records.values()))
    done = items[:len(items) - len(left)]
    _afterwards(session, source, [item for item, source_id in zip(done, ids, strict=False)
                                  if (record := records.get(source_id)) is not None
                                  and record["revision"] == item["revision"] and record["status"] != "erased"],
                records, at)
    if left:
        replaced = known[source.source_id(left[0])]
        _undo(session, replaced, reason=f"{source.source_type} corrected (revision {left[0]['revision']})")
        session.execute(sa.update(Earning).where(Earning.source_type == source.source_type,
                                                 Earning.source_id == replaced.source_id)
                        .values(status="superseded").execution_options(synchronize_session=False))
    return left


def _afterwards(session: Session, source: _Source, items: list[dict], records: dict[str, dict],
                at: datetime | None) -> None:
    """What crediting sets off beyond the ledger: each item counts towards the member's live challenges,
    and a first credited activity pays a pending referral."""
    challenges.record_all(session, [source.counts_as(item) for item in items], at=at or utc_now())
    first_credits: dict[str, datetime] = {}
    for item in items:
        if records[source.source_id(item)]["points"] > 0:
            first_credits.setdefault(item["member_id"], at or source.occurred_at(item))
    referrals.reward_first_activities(session, first_credits)


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
    challenges.record_all(session, [challenges.attendance(attendance)], at=at or utc_now())
    if earned is not None:
        referrals.reward_first_activities(session, {member_id: at or attendance["checked_in_at"]})
