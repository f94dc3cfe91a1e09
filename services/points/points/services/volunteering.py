"""Volunteering use cases: who may reach an opportunity or an attendance, and what each request does.

An organiser reaches only its own opportunities and attendances (and acts for itself unless it says
otherwise); a member-bound credential only its member's attendances; the app and support staff reach
all attendances, catalogue staff create opportunities for any organiser."""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import segno
from sqlalchemy.orm import Session

from rewards_shared import erasure
from rewards_shared.auth import Principal
from rewards_shared.errors import Forbidden, Gone, Invalid
from rewards_shared.ids import request_uuid
from rewards_shared.pagination import decode_cursor, page_of

from .. import opportunity_search, volunteering
from ..models import Attendance, Opportunity
from .members import refuse_if_erased

if TYPE_CHECKING:
    from ..bootstrap import Points

LONDON = ZoneInfo("Europe/London")
OPPORTUNITY_IDS = uuid.UUID("0f3c6a52-4b1e-4f7a-9d55-3c2d7e9a1b60")


def _reaches(principal: Principal, organiser_id: str) -> None:
    if principal.kind == "organiser" and not principal.acts_for("organiser", organiser_id):
        raise Forbidden("This belongs to another organiser.", field="organiser_id")


def _reaches_attendance(principal: Principal, attendance: Attendance) -> None:
    _reaches(principal, attendance.organiser_id)
    principal.check_member(attendance.member_id, f"No attendance {attendance.attendance_id}.")


def _described(session: Session, opportunity: Opportunity) -> dict:
    """The opportunity and what an hour there is worth."""
    return {**{column.key: getattr(opportunity, column.key) for column in Opportunity.__table__.columns},
            "points_policy": dataclasses.asdict(volunteering.points_policy(session, opportunity))}


def create_opportunity(rt: Points, principal: Principal, key: str, *, organiser_id: str | None,
                       **details) -> dict:
    """A new opportunity (`details` as `volunteering.create_opportunity` takes them); the same
    credential and Idempotency-Key always name the same one."""
    if principal.kind == "organiser":
        organiser_id = organiser_id or principal.subject
        _reaches(principal, organiser_id)
    elif organiser_id is None:
        raise Invalid("Say which organiser runs it.", field="organiser_id")
    with rt.database.transaction() as session:
        opportunity = volunteering.create_opportunity(
            session, opportunity_id=str(request_uuid(OPPORTUNITY_IDS, principal.role, key)),
            organiser_id=organiser_id, actor=principal.id, at=rt.clock(), **details)
        return _described(session, opportunity)


def find_opportunities(rt: Points, principal: Principal, *, limit: int, cursor: str | None, near: str | None,
                       radius_km: float, from_day: date | None, to_day: date | None) -> dict:
    """Opportunities not yet over, soonest first: in a range of Leeds days, near a point (`lat,lon`);
    an organiser finds only its own."""
    point = None
    if near is not None:
        try:
            latitude, longitude = (float(part) for part in near.split(","))
        except ValueError:
            raise Invalid("Give a point as latitude,longitude, e.g. 53.8008,-1.5491.", field="near") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise Invalid("Latitude is within ±90 and longitude within ±180.", field="near")
        point = opportunity_search.Near(latitude, longitude, radius_km)
    if from_day and to_day and to_day < from_day:
        raise Invalid("The range ends on or after its first day.", field="to")
    ends_after = rt.clock() if from_day is None else max(rt.clock(), _leeds_midnight(from_day))
    after = decode_cursor(cursor, (datetime, str))
    with rt.database.transaction() as session:
        found = opportunity_search.search(
            session, limit=limit + 1, after=after, ends_after=ends_after, near=point,
            starts_before=_leeds_midnight(to_day + timedelta(days=1)) if to_day else None,
            organiser_id=principal.subject if principal.kind == "organiser" else None)
        rows = [{**_described(session, opportunity), "distance_km": distance} for opportunity, distance in found]
    return page_of(rows, limit, lambda row: (row["starts_at"], row["opportunity_id"]))


def _leeds_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LONDON)


def get_opportunity(rt: Points, principal: Principal, opportunity_id: str) -> dict:
    with rt.database.transaction() as session:
        opportunity = volunteering.get_opportunity(session, opportunity_id)
        _reaches(principal, opportunity.organiser_id)
        return _described(session, opportunity)


def current_code(rt: Points, principal: Principal, opportunity_id: str, *, at: datetime | None = None) -> dict:
    """The check-in code of this moment (or of `at`, what the screen showed then), the link the app reads
    and its QR, for the organiser's screen."""
    if not rt.code_key:
        raise volunteering.CodesUnavailable("Check-in codes are not configured on this server.")
    with rt.database.transaction() as session:
        opportunity = volunteering.get_opportunity(session, opportunity_id)
    _reaches(principal, opportunity.organiser_id)
    at = at or rt.clock()
    if not volunteering.open_for_codes(opportunity, at):
        raise Gone(f"Opportunity {opportunity_id} has closed.", field="opportunity_id")
    current = volunteering.current_code(volunteering.code_secret(rt.code_key, opportunity_id), at)
    link = volunteering.check_in_link(opportunity_id, current.code)
    return {"opportunity_id": opportunity_id, "code": current.code, "valid_from": current.valid_from,
            "valid_until": current.valid_until, "step_seconds": volunteering.STEP_SECONDS, "link": link,
            "qr_svg": segno.make(link, error="m").svg_inline(scale=4)}


def record_scan(rt: Points, principal: Principal, scan: volunteering.Scan, *, action: str) -> Attendance:
    """A member's scan of the organiser's code: `in` opens an attendance, `out` closes it."""
    principal.check_member(scan.member_id)
    with rt.database.transaction() as session:
        refuse_if_erased(rt, session, scan.member_id)
        if action == "in":
            return volunteering.check_in(session, scan, key=rt.code_key, received_at=rt.clock())
        return volunteering.check_out(session, scan, key=rt.code_key, received_at=rt.clock())


def list_attendances(rt: Points, principal: Principal, *, limit: int, cursor: str | None,
                     organiser_id: str | None = None, member_id: str | None = None, **filters) -> dict:
    """Attendances, oldest check-in first, a page at a time: an organiser sees only its own, a member
    only theirs; the app names the member it asks for, only staff list across members."""
    if principal.kind == "organiser":
        organiser_id = organiser_id or principal.subject
        _reaches(principal, organiser_id)
    if principal.kind == "member":
        member_id = member_id or principal.subject
        principal.check_member(member_id)
    if principal.kind in ("app", "member") and member_id is None:
        raise Invalid("Say which member's attendances (member_id).", field="member_id")
    after = decode_cursor(cursor, (datetime, str))
    with rt.database.transaction() as session:
        rows = volunteering.attendances(session, limit=limit + 1, after=after, organiser_id=organiser_id,
                                        member_id=member_id, **filters)
    return page_of(rows, limit, lambda attendance: (attendance.checked_in_at, attendance.attendance_id))


def get_attendance(rt: Points, principal: Principal, attendance_id: str) -> Attendance:
    with rt.database.transaction() as session:
        attendance = volunteering.get_attendance(session, attendance_id)
        _reaches_attendance(principal, attendance)
        return attendance


def _decide(rt: Points, principal: Principal, attendance_id: str,
            decision: Callable[[Session, Attendance], Attendance]) -> Attendance:
    with rt.database.transaction() as session:
        attendance = volunteering.get_attendance(session, attendance_id, for_update=True)
        _reaches_attendance(principal, attendance)
        if attendance.member_id.startswith(erasure.PSEUDONYM_PREFIX):
            raise Gone(f"The member of attendance {attendance_id} was erased; it can no longer be decided.")
        return decision(session, attendance)


def confirm_attendance(rt: Points, principal: Principal, attendance_id: str, *, minutes: int | None) -> Attendance:
    """The organiser confirms (all or fewer minutes): the pending points become available."""
    return _decide(rt, principal, attendance_id, lambda session, attendance: volunteering.confirm(
        session, attendance, actor=principal.id, minutes=minutes, at=rt.clock()))


def reject_attendance(rt: Points, principal: Principal, attendance_id: str, *, reason: str) -> Attendance:
    """The organiser refuses, with a reason: the pending points go."""
    return _decide(rt, principal, attendance_id, lambda session, attendance: volunteering.reject(
        session, attendance, actor=principal.id, reason=reason, at=rt.clock()))
