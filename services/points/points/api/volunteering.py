"""Volunteering over HTTP: opportunities and their rotating codes (organisers), check-ins (app),
and the organiser's confirmation or rejection of each attendance."""
from __future__ import annotations

import functools
from datetime import datetime

import segno
from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.errors import Forbidden, Gone, Invalid
from rewards_shared.idempotency import idempotent
from rewards_shared.pagination import PageArgs, decode_cursor, keyset_page
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import current_principal, require

from .. import volunteering
from ..models import Attendance, Opportunity

blp = Blueprint("volunteering", __name__, url_prefix="/v1", description="Volunteering: opportunities, check-ins, "
                                                                          "attendances")

ID = IDENTIFIER
STATUSES = ("checked_in", "awaiting_confirmation", "confirmed", "rejected", "abandoned")


class NewOpportunity(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default=None, validate=validate.Length(max=2000))
    organiser_id = fields.String(load_default=None, validate=ID,
                                 metadata={"description": "Required for admin; an organiser creates only its own"})
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    latitude = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180))
    radius_m = fields.Integer(load_default=None, validate=validate.Range(min=10, max=50_000),
                              metadata={"description": "Geofence around latitude/longitude (all three or none)"})
    min_minutes = fields.Integer(load_default=30, validate=validate.Range(min=1, max=24 * 60))
    auto_confirm = fields.Boolean(load_default=False)


class PointsPolicyOut(Schema):
    rule_id = fields.String(allow_none=True)
    rule_version = fields.Integer(allow_none=True)
    points_per_hour = fields.Integer()
    min_minutes = fields.Integer()
    max_hours_per_day = fields.Float()


class OpportunityOut(Schema):
    opportunity_id = fields.String()
    organiser_id = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    radius_m = fields.Integer(allow_none=True)
    min_minutes = fields.Integer()
    auto_confirm = fields.Boolean()
    points_policy = fields.Nested(PointsPolicyOut, metadata={"description": "The volunteering rule that applies"})
    created_at = fields.DateTime()


class CodeOut(Schema):
    opportunity_id = fields.String()
    code = fields.String(metadata={"description": "6 digits, rotating every 30 seconds"})
    valid_from = fields.DateTime()
    valid_until = fields.DateTime()
    step_seconds = fields.Integer()
    link = fields.String(metadata={"description": "What the QR code holds"})
    qr_svg = fields.String(metadata={"description": "The QR code as an SVG document"})


class NewCheckin(Schema):
    member_id = fields.String(required=True, validate=ID)
    opportunity_id = fields.String(required=True, validate=ID)
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="Six digits."))
    action = fields.String(required=True, validate=validate.OneOf(("in", "out")))
    latitude = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180))
    scanned_at = fields.AwareDateTime(load_default=None, metadata={
        "description": "When the code was scanned, for a scan sent later (up to 24 hours); default: now"})


class AttendanceOut(Schema):
    attendance_id = fields.String()
    opportunity_id = fields.String()
    organiser_id = fields.String()
    member_id = fields.String()
    status = fields.String(metadata={"description": " | ".join(STATUSES)})
    checked_in_at = fields.DateTime()
    checked_out_at = fields.DateTime(allow_none=True)
    minutes = fields.Integer(allow_none=True, metadata={"description": "Minutes inside the opportunity's window"})
    confirmed_minutes = fields.Integer(allow_none=True)
    pending_points = fields.Integer(metadata={"description": "Estimate credited as pending at check-out"})
    check_in_distance_m = fields.Integer(allow_none=True)
    check_out_distance_m = fields.Integer(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)


class AttendanceQuery(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    opportunity_id = fields.String(load_default=None, validate=ID)
    member_id = fields.String(load_default=None, validate=ID)
    organiser_id = fields.String(load_default=None, validate=ID)


class AttendancePage(Schema):
    items = fields.List(fields.Nested(AttendanceOut))
    next_cursor = fields.String(allow_none=True)


class Confirmation(Schema):
    minutes = fields.Integer(load_default=None, validate=validate.Range(min=1),
                             metadata={"description": "Confirm fewer minutes than recorded"})


class Rejection(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


def _db():
    return current_app.extensions["database"]


def _code_key() -> str | None:
    return current_app.extensions["settings"].get_secret("VOLUNTEERING_CODE_KEY")


def _idempotent_when_keyed(view):
    """Replay a retried request when the app sends an Idempotency-Key; without one, run as usual."""
    keyed = idempotent(view)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return keyed(*args, **kwargs) if request.headers.get("Idempotency-Key") else view(*args, **kwargs)
    return wrapper


def _organiser_reaches(organiser_id: str) -> None:
    principal = current_principal()
    if principal.kind == "organiser" and not principal.acts_for("organiser", organiser_id):
        raise Forbidden("This belongs to another organiser.", field="organiser_id")


def _opportunity_out(session, opportunity: Opportunity) -> dict:
    policy = volunteering.points_policy(session, opportunity)
    return {**{c.key: getattr(opportunity, c.key) for c in Opportunity.__table__.columns},
            "points_policy": policy.__dict__}


@blp.route("/opportunities")
class Opportunities(MethodView):
    @require("organiser")
    @idempotent
    @blp.arguments(NewOpportunity)
    @blp.response(201, OpportunityOut)
    def post(self, body):
        """Create a volunteering opportunity: when, where (optionally a geofence), and how it is confirmed."""
        principal = current_principal()
        organiser_id = body.pop("organiser_id")
        if principal.kind == "organiser":
            organiser_id = organiser_id or principal.subject
            _organiser_reaches(organiser_id)
        elif organiser_id is None:
            raise Invalid("Say which organiser runs it.", field="organiser_id")
        with _db().transaction() as session:
            opportunity = volunteering.create_opportunity(
                session, opportunity_id=volunteering.opportunity_id_for(principal.role, g.idempotency_key),
                organiser_id=organiser_id, actor=principal.id, **body)
            return _opportunity_out(session, opportunity)


@blp.route("/opportunities/<opportunity_id>")
class OpportunityView(MethodView):
    @require("app", "organiser")
    @blp.response(200, OpportunityOut)
    def get(self, opportunity_id):
        """An opportunity and what an hour there is worth."""
        with _db().transaction() as session:
            opportunity = volunteering.get_opportunity(session, opportunity_id)
            _organiser_reaches(opportunity.organiser_id)
            return _opportunity_out(session, opportunity)


@blp.route("/opportunities/<opportunity_id>/code")
class OpportunityCode(MethodView):
    @require("organiser")
    @blp.response(200, CodeOut)
    def get(self, opportunity_id):
        """The current check-in code and its QR, for the organiser's screen; fetch again when it expires."""
        key = _code_key()
        if not key:
            raise volunteering.CodesUnavailable("Check-in codes are not configured on this server.")
        with _db().transaction() as session:
            opportunity = volunteering.get_opportunity(session, opportunity_id)
        _organiser_reaches(opportunity.organiser_id)
        at = volunteering.now()
        if not volunteering.open_for_codes(opportunity, at):
            raise Gone(f"Opportunity {opportunity_id} has closed.", field="opportunity_id")
        current = volunteering.current_code(volunteering.code_secret(key, opportunity_id), at)
        link = volunteering.check_in_link(opportunity_id, current.code)
        return {"opportunity_id": opportunity_id, "code": current.code, "valid_from": current.valid_from,
                "valid_until": current.valid_until, "step_seconds": volunteering.STEP_SECONDS, "link": link,
                "qr_svg": segno.make(link, error="m").svg_inline(scale=4)}


@blp.route("/checkins")
class Checkins(MethodView):
    @require("app")
    @_idempotent_when_keyed
    @blp.arguments(NewCheckin)
    @blp.response(201, AttendanceOut)
    def post(self, body):
        """Check a member in (201, a new attendance) or out (200, the attendance awaiting confirmation)."""
        action = body.pop("action")
        scan = volunteering.Scan(**body)
        with _db().transaction() as session:
            if action == "in":
                return volunteering.check_in(session, scan, key=_code_key())
            return volunteering.check_out(session, scan, key=_code_key()), 200


@blp.route("/attendances")
class Attendances(MethodView):
    @require("app", "organiser")
    @blp.arguments(AttendanceQuery, location="query")
    @blp.response(200, AttendancePage)
    def get(self, query):
        """Attendances, oldest check-in first: an organiser sees only its own
        (`?status=awaiting_confirmation` is its queue)."""
        principal = current_principal()
        if principal.kind == "organiser":
            query["organiser_id"] = query["organiser_id"] or principal.subject
            _organiser_reaches(query["organiser_id"])
        cursor = decode_cursor(query.pop("cursor"), 2)
        limit = query.pop("limit")
        with _db().transaction() as session:
            rows = volunteering.attendances(session, limit=limit + 1, after=_after(cursor), **query)
        page, cursor = keyset_page(rows, limit, lambda a: (a.checked_in_at.isoformat(), a.attendance_id))
        return {"items": page, "next_cursor": cursor}


def _after(cursor: list | None):
    if cursor is None:
        return None
    try:
        return datetime.fromisoformat(cursor[0]), str(cursor[1])
    except (TypeError, ValueError):
        raise Invalid("The cursor is not one this API gave out.", field="cursor") from None


@blp.route("/attendances/<attendance_id>")
class AttendanceView(MethodView):
    @require("app", "organiser")
    @blp.response(200, AttendanceOut)
    def get(self, attendance_id):
        """One attendance and where it stands."""
        with _db().transaction() as session:
            attendance = volunteering.get_attendance(session, attendance_id)
            _organiser_reaches(attendance.organiser_id)
            return attendance


def _decide(attendance_id: str, decision) -> Attendance:
    with _db().transaction() as session:
        attendance = volunteering.get_attendance(session, attendance_id, for_update=True)
        _organiser_reaches(attendance.organiser_id)
        return decision(session, attendance)


@blp.route("/attendances/<attendance_id>/confirm")
class AttendanceConfirm(MethodView):
    @require("organiser")
    @blp.arguments(Confirmation)
    @blp.response(200, AttendanceOut)
    def post(self, body, attendance_id):
        """Confirm an attendance at one of your opportunities: its points become available (repeatable)."""
        actor = current_principal().id
        return _decide(attendance_id, lambda session, attendance: volunteering.confirm(
            session, attendance, actor=actor, minutes=body["minutes"]))


@blp.route("/attendances/<attendance_id>/reject")
class AttendanceReject(MethodView):
    @require("organiser")
    @blp.arguments(Rejection)
    @blp.response(200, AttendanceOut)
    def post(self, body, attendance_id):
        """Refuse an attendance at one of your opportunities, with a reason: its pending points go (repeatable)."""
        actor = current_principal().id
        return _decide(attendance_id, lambda session, attendance: volunteering.reject(
            session, attendance, actor=actor, reason=body["reason"]))
