"""Volunteering: opportunities, check-in and check-out with the organiser's rotating code, and the
organiser's confirmation that turns an attendance's pending points into available ones.

The code is a TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step either side accepted)
whose secret is HMAC-SHA256(service key, opportunity id): nothing secret is stored, and a leaked
database gives no codes. The app may send a scan made offline later with `scanned_at`; the code
proves the member was there then, since it is only valid around its own time step.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards_shared import geo, outbox
from rewards_shared.errors import Conflict, DomainError, Invalid, NotFound
from rewards_shared.events import Event
from rewards_shared.runtime import utc_now

from . import ledger, rules
from .models import Attendance, Member, Opportunity

STEP_SECONDS = 30
DIGITS = 6
WINDOW_STEPS = 1
CHECK_IN_OPENS_EARLY = timedelta(minutes=15)
CHECK_OUT_CLOSES_LATE = timedelta(minutes=60)
OFFLINE_SCANS_UP_TO = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=1)
LONGEST_OPPORTUNITY = timedelta(days=14)
DEFAULT_MIN_MINUTES = 30
SOURCE = "points"


class CodesUnavailable(DomainError):
    status = 503
    title = "Check-in codes unavailable"


# --- rotating codes ---------------------------------------------------------------------------------

def code_secret(key: str | bytes, opportunity_id: str) -> bytes:
    """The opportunity's TOTP secret, derived on demand from the service key."""
    raw = key.strip().encode() if isinstance(key, str) else key
    return hmac.new(raw, opportunity_id.encode(), hashlib.sha256).digest()


def hotp(secret: bytes, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226: HMAC-SHA1 of the counter, dynamically truncated to `digits` decimal digits."""
    digest = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10 ** digits).zfill(digits)


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def totp(secret: bytes, at: datetime, digits: int = DIGITS) -> str:
    return hotp(secret, time_step(at), digits)


def code_matches(secret: bytes, code: str, at: datetime) -> bool:
    """True when `code` is the code of `at`'s step or of a step either side (a scan near a rollover)."""
    step = time_step(at)
    return any(hmac.compare_digest(hotp(secret, step + delta), code)
               for delta in range(-WINDOW_STEPS, WINDOW_STEPS + 1))


@dataclass(frozen=True)
class CheckInCode:
    code: str
    valid_from: datetime
    valid_until: datetime


def current_code(secret: bytes, at: datetime) -> CheckInCode:
    step = time_step(at)
    start = datetime.fromtimestamp(step * STEP_SECONDS, UTC)
    return CheckInCode(hotp(secret, step), start, start + timedelta(seconds=STEP_SECONDS))


def check_in_link(opportunity_id: str, code: str) -> str:
    """What the organiser's QR code holds: the app reads both values from it."""
    return f"smartleedsrewards://checkin?opportunity_id={opportunity_id}&code={code}"


# --- geofence ---------------------------------------------------------------------------------------

def _within_geofence(opportunity: Opportunity, latitude: float | None, longitude: float | None) -> int | None:
    """The distance from the site in whole metres, or Invalid naming the position when outside or missing."""
    if opportunity.radius_m is None:
        return None
    if latitude is None or longitude is None:
        missing = [name for name, value in (("latitude", latitude), ("longitude", longitude)) if value is None]
        message = "This opportunity checks the position; send latitude and longitude."
        raise Invalid(message, errors={name: [message] for name in missing})
    distance = round(geo.distance_m((opportunity.latitude, opportunity.longitude), (latitude, longitude)))
    if distance > opportunity.radius_m:
        message = f"{distance} m from the site; check in within {opportunity.radius_m} m."
        raise Invalid(message, errors={"latitude": [message], "longitude": [message]},
                      distance_m=distance, radius_m=opportunity.radius_m)
    return distance


# --- opportunities ----------------------------------------------------------------------------------

def create_opportunity(session: Session, *, opportunity_id: str, organiser_id: str, title: str,
                       starts_at: datetime, ends_at: datetime, actor: str, description: str | None = None,
                       latitude: float | None = None, longitude: float | None = None, radius_m: int | None = None,
                       min_minutes: int | None = None, auto_confirm: bool = False,
                       at: datetime | None = None) -> Opportunity:
    """`min_minutes` defaults to the minimum of the volunteering rule in force at the start, and may not be
    below it: an attendance the rule would pay nothing for is refused at check-out, not credited with 0."""
    existing = session.get(Opportunity, opportunity_id)
    if existing is not None:
        return existing
    min_minutes = _check_min_minutes(session, starts_at, min_minutes)
    _check_window(starts_at, ends_at, min_minutes, at or utc_now())
    _check_geofence_complete(latitude, longitude, radius_m)
    opportunity = Opportunity(
        opportunity_id=opportunity_id, organiser_id=organiser_id, title=title, description=description,
        starts_at=starts_at, ends_at=ends_at, latitude=latitude, longitude=longitude, radius_m=radius_m,
        min_minutes=min_minutes, auto_confirm=auto_confirm, created_by=actor)
    session.add(opportunity)
    session.flush()
    return opportunity


def _volunteering_rule(session: Session, at: datetime):
    return next((r for r in rules.in_force(session, at) if r.kind == "volunteering"), None)


def _check_min_minutes(session: Session, starts_at: datetime, min_minutes: int | None) -> int:
    rule = _volunteering_rule(session, starts_at)
    if rule is None:
        return min_minutes or DEFAULT_MIN_MINUTES
    floor = rule.definition["min_minutes"]
    if min_minutes is None:
        return max(floor, 1)
    if min_minutes < floor:
        raise Invalid(f"min_minutes is {min_minutes}, but the volunteering rule {rule.rule_id} (version "
                      f"{rule.version}) in force at starts_at earns points only from {floor} minutes: "
                      f"ask for at least {floor}.", field="min_minutes", rule_min_minutes=floor)
    return min_minutes


def _check_window(starts_at: datetime, ends_at: datetime, min_minutes: int, at: datetime) -> None:
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at.", field="ends_at")
    if ends_at <= at:
        raise Invalid("ends_at is in the past; an opportunity is created before it ends.", field="ends_at")
    if ends_at - starts_at > LONGEST_OPPORTUNITY:
        raise Invalid(f"An opportunity lasts at most {LONGEST_OPPORTUNITY.days} days.", field="ends_at")
    if timedelta(minutes=min_minutes) > ends_at - starts_at:
        raise Invalid("min_minutes is longer than the opportunity itself.", field="min_minutes")


def _check_geofence_complete(latitude: float | None, longitude: float | None, radius_m: int | None) -> None:
    given = {"latitude": latitude, "longitude": longitude, "radius_m": radius_m}
    missing = [name for name, value in given.items() if value is None]
    if missing and len(missing) < len(given):
        message = "A geofence needs latitude, longitude and radius_m together."
        raise Invalid(message, errors={name: [message] for name in missing})


def get_opportunity(session: Session, opportunity_id: str) -> Opportunity:
    opportunity = session.get(Opportunity, opportunity_id)
    if opportunity is None:
        raise NotFound(f"No opportunity {opportunity_id}.", field="opportunity_id")
    return opportunity


def open_for_codes(opportunity: Opportunity, at: datetime) -> bool:
    return at < opportunity.ends_at + CHECK_OUT_CLOSES_LATE


@dataclass(frozen=True)
class PointsPolicy:
    rule_id: str | None
    rule_version: int | None
    points_per_hour: int
    min_minutes: int
    max_hours_per_day: float


def points_policy(session: Session, opportunity: Opportunity) -> PointsPolicy:
    """What an hour at this opportunity is worth: the volunteering rule in force when it starts."""
    rule = _volunteering_rule(session, opportunity.starts_at)
    if rule is None:
        return PointsPolicy(None, None, 0, opportunity.min_minutes, 0)
    d = rule.definition
    return PointsPolicy(rule.rule_id, rule.version, d["points_per_hour"], max(opportunity.min_minutes,
                        d["min_minutes"]), d["max_hours_per_day"])


# --- check-in and check-out -------------------------------------------------------------------------

@dataclass(frozen=True)
class Scan:
    """One check-in or check-out as the app reports it."""
    member_id: str
    opportunity_id: str
    code: str
    scanned_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None


def _scan_time(scan: Scan, received_at: datetime) -> datetime:
    if scan.scanned_at is None:
        return received_at
    if scan.scanned_at > received_at + CLOCK_SKEW:
        raise Invalid("scanned_at is in the future.", field="scanned_at")
    if scan.scanned_at < received_at - OFFLINE_SCANS_UP_TO:
        hours = int(OFFLINE_SCANS_UP_TO.total_seconds() // 3600)
        raise Invalid(f"Scans are accepted up to {hours} hours after they were made.", field="scanned_at")
    return scan.scanned_at


def _verify_scan(session: Session, scan: Scan, key: str | None, received_at: datetime
                 ) -> tuple[Opportunity, datetime, int | None]:
    if not key:
        raise CodesUnavailable("Check-in codes are not configured on this server.")
    at = _scan_time(scan, received_at)
    opportunity = get_opportunity(session, scan.opportunity_id)
    if not code_matches(code_secret(key, opportunity.opportunity_id), scan.code, at):
        raise Invalid("The code is wrong or has expired; scan the organiser's current code.", field="code")
    distance = _within_geofence(opportunity, scan.latitude, scan.longitude)
    return opportunity, at, distance


def _member(session: Session, member_id: str) -> Member:
    member = session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        raise NotFound(f"No member {member_id}; register it with POST /v1/members first.", field="member_id")
    return member


def _open_attendance(session: Session, member_id: str) -> Attendance | None:
    return session.execute(
        sa.select(Attendance).where(Attendance.member_id == member_id, Attendance.status == "checked_in")
        .with_for_update()).scalar()


def check_in(session: Session, scan: Scan, *, key: str | None, received_at: datetime | None = None) -> Attendance:
    received_at = received_at or utc_now()
    opportunity, at, distance = _verify_scan(session, scan, key, received_at)
    opens = opportunity.starts_at - CHECK_IN_OPENS_EARLY
    if not opens <= at < opportunity.ends_at:
        raise Invalid(f"Check-in is open from {opens:%Y-%m-%d %H:%M} until {opportunity.ends_at:%Y-%m-%d %H:%M} UTC.",
                      field="opportunity_id", opens_at=opens.isoformat(), ends_at=opportunity.ends_at.isoformat())
    _member(session, scan.member_id)
    _refuse_second_check_in(session, scan.member_id, at, received_at)
    attendance = Attendance(
        attendance_id=str(uuid.uuid4()), opportunity_id=opportunity.opportunity_id,
        organiser_id=opportunity.organiser_id, member_id=scan.member_id, status="checked_in", checked_in_at=at,
        check_in_distance_m=distance)
    try:
        with session.begin_nested():
            session.add(attendance)
    except IntegrityError:
        raise Conflict("The member checked in elsewhere at the same moment.", field="member_id",
                       state="checked_in") from None
    return attendance


def _refuse_second_check_in(session: Session, member_id: str, at: datetime, received_at: datetime) -> None:
    current = _open_attendance(session, member_id)
    if current is not None:
        opportunity = session.get(Opportunity, current.opportunity_id)
        if received_at < opportunity.ends_at + CHECK_OUT_CLOSES_LATE:
            raise Conflict(f"The member is already checked in at {current.opportunity_id} since "
                           f"{current.checked_in_at:%H:%M} UTC; check out first.", field="action",
                           state="checked_in", attendance_id=current.attendance_id)
        _abandon(current, received_at)
        session.flush()
    overlapping = session.execute(
        sa.select(Attendance.attendance_id).where(Attendance.member_id == member_id,
                                                  Attendance.checked_out_at > at).limit(1)).scalar()
    if overlapping is not None:
        raise Conflict(f"A check-in at this time overlaps attendance {overlapping}.", field="scanned_at",
                       state="checked_out", attendance_id=overlapping)


def _abandon(attendance: Attendance, at: datetime) -> None:
    """A check-in nobody checked out of before the opportunity closed earns nothing."""
    attendance.status = "abandoned"
    attendance.reason = "no check-out before the opportunity closed"
    attendance.updated_at = at


def attended_minutes(opportunity: Opportunity, checked_in_at: datetime, checked_out_at: datetime) -> int:
    """Whole minutes of the attendance inside the opportunity's own window."""
    start, end = max(checked_in_at, opportunity.starts_at), min(checked_out_at, opportunity.ends_at)
    return max(0, int((end - start).total_seconds() // 60))


def check_out(session: Session, scan: Scan, *, key: str | None, received_at: datetime | None = None) -> Attendance:
    received_at = received_at or utc_now()
    opportunity, at, distance = _verify_scan(session, scan, key, received_at)
    attendance = _open_attendance(session, scan.member_id)
    if attendance is None or attendance.opportunity_id != opportunity.opportunity_id:
        raise Conflict(f"The member is not checked in at {opportunity.opportunity_id}; check in first.",
                       field="action", state="not_checked_in",
                       attendance_id=attendance.attendance_id if attendance else None)
    if at > opportunity.ends_at + CHECK_OUT_CLOSES_LATE:
        raise Invalid("Check-out closed an hour after the opportunity ended.", field="opportunity_id",
                      ends_at=opportunity.ends_at.isoformat())
    if at <= attendance.checked_in_at:
        raise Invalid("A check-out comes after its check-in.", field="scanned_at")
    minutes = attended_minutes(opportunity, attendance.checked_in_at, at)
    if minutes < opportunity.min_minutes:
        earliest = max(attendance.checked_in_at, opportunity.starts_at) + timedelta(minutes=opportunity.min_minutes)
        raise Invalid(f"{minutes} minutes counted so far; check out after at least {opportunity.min_minutes}.",
                      field="action", minutes=minutes, min_minutes=opportunity.min_minutes,
                      earliest_check_out_at=earliest.isoformat())
    attendance.checked_out_at, attendance.minutes, attendance.check_out_distance_m = at, minutes, distance
    attendance.status, attendance.updated_at = "awaiting_confirmation", received_at
    _credit_pending(session, attendance)
    if opportunity.auto_confirm:
        _confirm(session, attendance, actor="auto_confirm", minutes=minutes, at=received_at)
    return attendance


def _credit_pending(session: Session, attendance: Attendance) -> None:
    estimate = rules.award_for_attendance(session, attendance.member_id, started_at=attendance.checked_in_at,
                                          minutes=attendance.minutes)
    attendance.pending_points = estimate.points
    if estimate.points > 0:
        ledger.credit_pending(session, member_id=attendance.member_id, points=estimate.points,
                              source_type="attendance", source_id=attendance.attendance_id,
                              cause=_cause(attendance), rule_id=estimate.rule_id,
                              rule_version=estimate.rule_version, occurred_at=attendance.checked_in_at)


def _cause(attendance: Attendance) -> str:
    return f"attendance:{attendance.attendance_id}"


# --- the organiser's decision -----------------------------------------------------------------------

def get_attendance(session: Session, attendance_id: str, *, for_update: bool = False) -> Attendance:
    attendance = session.get(Attendance, attendance_id, with_for_update=for_update)
    if attendance is None:
        raise NotFound(f"No attendance {attendance_id}.", field="attendance_id")
    return attendance


def confirm(session: Session, attendance: Attendance, *, actor: str, minutes: int | None = None,
            at: datetime | None = None) -> Attendance:
    """Confirm the attendance (all of it, or fewer minutes than recorded); repeating is harmless."""
    if attendance.status == "confirmed":
        return attendance
    if attendance.status != "awaiting_confirmation":
        raise Conflict(f"Attendance {attendance.attendance_id} is {attendance.status}; only an attendance "
                       f"awaiting confirmation can be confirmed.", field="status", state=attendance.status)
    if minutes is not None and minutes > attendance.minutes:
        raise Invalid(f"The attendance recorded {attendance.minutes} minutes; confirm at most that.",
                      field="minutes")
    _confirm(session, attendance, actor=actor, minutes=attendance.minutes if minutes is None else minutes,
             at=at or utc_now())
    return attendance


def _confirm(session: Session, attendance: Attendance, *, actor: str, minutes: int, at: datetime) -> None:
    attendance.status, attendance.confirmed_minutes = "confirmed", minutes
    attendance.decided_by, attendance.decided_at, attendance.updated_at = actor, at, at
    outbox.add(session, Event.create("volunteering.attendance.confirmed", SOURCE, attendance.member_id, {
        "member_id": attendance.member_id, "attendance_id": attendance.attendance_id,
        "opportunity_id": attendance.opportunity_id, "organiser_id": attendance.organiser_id,
        "checked_in_at": attendance.checked_in_at.isoformat(),
        "checked_out_at": attendance.checked_out_at.isoformat(), "minutes": minutes}))


def reject(session: Session, attendance: Attendance, *, actor: str, reason: str,
           at: datetime | None = None) -> Attendance:
    """Refuse the attendance: its pending points go; repeating is harmless. An open check-in can be
    refused too (someone who checked in and left)."""
    if attendance.status == "rejected":
        return attendance
    if attendance.status not in ("awaiting_confirmation", "checked_in"):
        raise Conflict(f"Attendance {attendance.attendance_id} is {attendance.status}; it can no longer be "
                       f"rejected.", field="status", state=attendance.status)
    at = at or utc_now()
    ledger.settle_pending(session, member_id=attendance.member_id, cause=_cause(attendance), confirmed=False,
                          reason=f"attendance rejected: {reason}", at=at)
    attendance.status, attendance.reason = "rejected", reason
    attendance.decided_by, attendance.decided_at, attendance.updated_at = actor, at, at
    return attendance


# --- reading ----------------------------------------------------------------------------------------

def attendances(session: Session, *, limit: int, organiser_id: str | None = None, opportunity_id: str | None = None,
                member_id: str | None = None, status: str | None = None,
                after: tuple[datetime, str] | None = None) -> list[Attendance]:
    """Oldest check-in first, so an organiser works through the queue in the order people came."""
    query = sa.select(Attendance)
    for column, value in ((Attendance.organiser_id, organiser_id), (Attendance.opportunity_id, opportunity_id),
                          (Attendance.member_id, member_id), (Attendance.status, status)):
        if value is not None:
            query = query.where(column == value)
    if after is not None:
        query = query.where(sa.tuple_(Attendance.checked_in_at, Attendance.attendance_id) > sa.tuple_(*after))
    return list(session.execute(
        query.order_by(Attendance.checked_in_at, Attendance.attendance_id).limit(limit)).scalars())
