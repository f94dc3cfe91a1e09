"""Challenges and streaks: admin-defined goals that pay a bonus once a member reaches them.

A `count` challenge counts matching activities between `starts_at` and `ends_at` ("10 bus journeys in
November"); a `streak` wants `periods` consecutive weeks or months, each with at least `min_per_period`
of them ("a sustainable journey a week, four weeks running"). Periods are Europe/London weeks (Monday
to Sunday) and months, so a journey at 23:30 on a summer Sunday (22:30 UTC) still counts for that week.

Each activity counts once per challenge, keyed by the activity itself (a journey's id, not its
revision), so a redelivered or corrected event changes nothing; the bonus is an earning whose id derives
from (challenge, member), so it is paid at most once. All of it runs in the transaction that credits
the activity.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.errors import Invalid
from rewards_shared.events.schemas import ACTIVITY_KINDS, JOURNEY_KINDS, MODES, PRIORITIES

from . import ledger
from .models import Challenge, ChallengeActivity, ChallengeProgress

LONDON = ZoneInfo("Europe/London")
KINDS = ("count", "streak")
PERIODS = ("week", "month")
SUSTAINABLE_MODES = frozenset({"bus", "tram", "rail", "train", "ferry", "cycle", "walk"})

#: What each activity can be filtered on, and the type each filter takes.
FILTERS: dict[str, dict[str, type]] = {
    "transit.journey": {"mode": str, "sustainable": bool, "operator_id": str, "kind": str},
    "volunteering.attendance": {"organiser_id": str, "opportunity_id": str, "min_minutes": int},
    "provider.activity": {"kind": str, "provider_id": str, "priority": str},
}
ACTIVITIES = tuple(FILTERS)


@dataclass(frozen=True)
class Activity:
    """Something a member did that may count: `facts` are what filters look at."""
    activity: str
    activity_id: str
    member_id: str
    occurred_at: datetime
    facts: dict = field(default_factory=dict)


def journey(data: dict) -> Activity:
    mode = data["mode"]
    return Activity("transit.journey", f"journey:{data['journey_id']}", data["member_id"], data["started_at"], {
        "mode": mode, "sustainable": mode in SUSTAINABLE_MODES, "operator_id": data.get("operator_id"),
        "kind": data.get("kind")})


def attendance(data: dict) -> Activity:
    return Activity("volunteering.attendance", f"attendance:{data['attendance_id']}", data["member_id"],
                    data["checked_in_at"], {"organiser_id": data.get("organiser_id"),
                                            "opportunity_id": data.get("opportunity_id"),
                                            "minutes": data.get("minutes")})


def provider_activity(data: dict) -> Activity:
    """A provider's activity, keyed as the ledger keys it (a correction is the same activity)."""
    return Activity("provider.activity", f"activity:{data['provider_id']}:{data['activity_id']}", data["member_id"],
                    data["occurred_at"], {"kind": data["kind"], "provider_id": data["provider_id"],
                                          "priorities": list(data.get("priorities") or ())})


# --- the rules ------------------------------------------------------------------------------------

def check_filter(activity: str, wanted: dict) -> None:
    """Refuse a filter the activity cannot be matched on, naming `filter.<key>`."""
    allowed = FILTERS[activity]
    for key, value in wanted.items():
        name = f"filter.{key}"
        if key not in allowed:
            raise Invalid(f"{activity} can be filtered on {', '.join(sorted(allowed))}.", field=name)
        kind = allowed[key]
        values = value if key == "mode" and isinstance(value, list) else [value]
        if not values or any(type(v) is not kind for v in values):
            raise Invalid(f"Expected {'a list of ' if key == 'mode' else ''}{kind.__name__}.", field=name)
        if key == "mode" and not set(values) <= set(MODES) | SUSTAINABLE_MODES:
            raise Invalid(f"Modes are {', '.join(sorted(set(MODES) | SUSTAINABLE_MODES))}.", field=name)
        if key == "kind":
            provided = activity == "provider.activity"
            known, noun = (ACTIVITY_KINDS, "Activity") if provided else (JOURNEY_KINDS, "Journey")
            if value not in known:
                raise Invalid(f"{noun} kinds are {', '.join(known)}.", field=name)
        if key == "priority" and value not in PRIORITIES:
            raise Invalid(f"The city's priorities are {', '.join(PRIORITIES)}.", field=name)


def matches(wanted: dict, facts: dict) -> bool:
    for key, value in wanted.items():
        if key == "mode":
            if facts.get("mode") not in (value if isinstance(value, list) else [value]):
                return False
        elif key == "min_minutes":
            if (facts.get("minutes") or 0) < value:
                return False
        elif key == "priority":
            if value not in facts.get("priorities", ()):
                return False
        elif facts.get(key) != value:
            return False
    return True


def period_of(at: datetime, period: str) -> date:
    """The first day (in Leeds) of the week or month `at` falls in."""
    day = at.astimezone(LONDON).date()
    return day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


def _next(start: date, period: str) -> date:
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def longest_streak(occurrences: Iterable[datetime], *, period: str, min_per_period: int) -> int:
    """The longest run of consecutive periods that each hold at least `min_per_period` occurrences."""
    counts: dict[date, int] = {}
    for at in occurrences:
        start = period_of(at, period)
        counts[start] = counts.get(start, 0) + 1
    enough = sorted(start for start, n in counts.items() if n >= min_per_period)
    best = run = 0
    previous = None
    for start in enough:
        run = run + 1 if previous is not None and _next(previous, period) == start else 1
        best, previous = max(best, run), start
    return best


def goal(challenge: Challenge) -> int:
    return challenge.target if challenge.kind == "count" else challenge.periods


def progress_of(challenge: Challenge, occurrences: list[datetime]) -> int:
    """How far the member has got, never beyond the goal."""
    if challenge.kind == "count":
        reached = len(occurrences)
    else:
        reached = longest_streak(occurrences, period=challenge.period, min_per_period=challenge.min_per_period)
    return min(reached, goal(challenge))


# --- applying activities --------------------------------------------------------------------------

def record_all(session: Session, activities: list[Activity], *, at: datetime) -> None:
    """Count each activity, in order, towards every live challenge it matches (the live challenges are
    read once for the lot), paying the bonus of any it completes."""
    if not activities:
        return
    live = session.execute(sa.select(Challenge).where(
        Challenge.active, Challenge.activity.in_(sorted({a.activity for a in activities})),
        Challenge.starts_at <= max(a.occurred_at for a in activities),
        Challenge.ends_at > min(a.occurred_at for a in activities)).order_by(Challenge.challenge_id)).scalars().all()
    for activity in activities:
        for challenge in live:
            if challenge.activity != activity.activity or not (
                    challenge.starts_at <= activity.occurred_at < challenge.ends_at) \
                    or not matches(challenge.filter, activity.facts):
                continue
            counted = session.execute(insert(ChallengeActivity).values(
                challenge_id=challenge.challenge_id, member_id=activity.member_id,
                activity_id=activity.activity_id, occurred_at=activity.occurred_at)
                .on_conflict_do_nothing().returning(ChallengeActivity.activity_id)).first()
            if counted is not None:
                _settle(session, challenge, activity.member_id, at=at)


def withdraw(session: Session, activity_id: str, member_id: str, *, at: datetime) -> None:
    """A voided activity stops counting where the challenge is not yet completed (a paid bonus stays)."""
    completed = sa.select(ChallengeProgress.challenge_id).where(
        ChallengeProgress.member_id == member_id, ChallengeProgress.completed_at.is_not(None))
    removed = session.execute(sa.delete(ChallengeActivity).where(
        ChallengeActivity.member_id == member_id, ChallengeActivity.activity_id == activity_id,
        ChallengeActivity.challenge_id.not_in(completed)).returning(ChallengeActivity.challenge_id)).scalars().all()
    for challenge_id in removed:
        _settle(session, session.get(Challenge, challenge_id), member_id, at=at)


def _settle(session: Session, challenge: Challenge, member_id: str, *, at: datetime) -> None:
    session.execute(insert(ChallengeProgress).values(challenge_id=challenge.challenge_id, member_id=member_id)
                    .on_conflict_do_nothing())
    standing = session.get(ChallengeProgress, (challenge.challenge_id, member_id), with_for_update=True,
                           populate_existing=True)
    if standing.completed_at is not None:
        return
    occurrences = list(session.execute(sa.select(ChallengeActivity.occurred_at).where(
        ChallengeActivity.challenge_id == challenge.challenge_id, ChallengeActivity.member_id == member_id)
    ).scalars())
    reached = progress_of(challenge, occurrences)
    if reached == standing.progress:
        return
    standing.progress, standing.updated_at = reached, at
    facts = {"challenge_id": challenge.challenge_id, "title": challenge.title, "kind": challenge.kind,
             "progress": reached, "goal": goal(challenge)}
    if reached < goal(challenge):
        ledger.emit(session, "challenge.progressed", member_id, **facts)
        return
    posted = None
    if challenge.bonus_points > 0:
        posted = ledger.earn(session, member_id=member_id, points=challenge.bonus_points, source_type="challenge",
                             source_id=challenge.challenge_id, cause=f"challenge:{challenge.challenge_id}:{member_id}",
                             details={"challenge": challenge.title}, at=at)
    standing.completed_at = at
    standing.bonus_transfer_id = posted.transfer.id if posted else None
    ledger.emit(session, "challenge.completed", member_id, **facts, bonus_points=challenge.bonus_points,
                completed_at=at.isoformat())
