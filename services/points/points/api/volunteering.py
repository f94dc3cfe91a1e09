"""Volunteering over HTTP: opportunities and their rotating codes (organisers), check-ins (app),
and the organiser's confirmation or rejection of each attendance."""
from __future__ import annotations

import functools

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.idempotency import idempotent
from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import current_principal, require

from .. import services
from ..volunteering import Scan
from . import runtime

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
    min_minutes = fields.Integer(load_default=None, validate=validate.Range(min=1, max=24 * 60), metadata={
        "description": "Shortest attendance that counts: at least the volunteering rule's min_minutes (30), "
                       "which is also the default"})
    auto_confirm = fields.Boolean(load_default=False)


class OpportunityQuery(PageArgs):
    near = fields.String(load_default=None, metadata={"description": "latitude,longitude, e.g. 53.8008,-1.5491"})
    radius_km = fields.Float(load_default=5.0, validate=validate.Range(min=0.1, max=100))
    from_ = fields.Date(load_default=None, data_key="from", metadata={"description": "First Leeds day"})
    to = fields.Date(load_default=None, metadata={"description": "Last Leeds day (included)"})


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


class FoundOpportunityOut(OpportunityOut):
    distance_km = fields.Float(allow_none=True, metadata={"description": "From `near`, when given"})


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


class Confirmation(Schema):
    minutes = fields.Integer(load_default=None, validate=validate.Range(min=1),
                             metadata={"description": "Confirm fewer minutes than recorded"})


class Rejection(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


def _idempotent_when_keyed(view):
    """Replay a retried request when the app sends an Idempotency-Key; without one, run as usual."""
    keyed = idempotent(view)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return keyed(*args, **kwargs) if request.headers.get("Idempotency-Key") else view(*args, **kwargs)
    return wrapper


@blp.route("/opportunities")
class Opportunities(MethodView):
    @require("organiser", "catalogue")
    @idempotent
    @blp.arguments(NewOpportunity)
    @blp.response(201, OpportunityOut)
    def post(self, body):
        """Create a volunteering opportunity: when, where (optionally a geofence), and how it is confirmed."""
        return services.create_opportunity(runtime(), current_principal(), g.idempotency_key, **body)

    @require("app", "member", "organiser", "catalogue")
    @blp.arguments(OpportunityQuery, location="query")
    @blp.response(200, page_schema(FoundOpportunityOut))
    def get(self, query):
        """Opportunities not yet over, soonest first: in a range of days, near a point; an organiser's own."""
        return services.find_opportunities(runtime(), current_principal(), limit=query["limit"],
                                           cursor=query["cursor"], near=query["near"], radius_km=query["radius_km"],
                                           from_day=query["from_"], to_day=query["to"])


@blp.route("/opportunities/<opportunity_id>")
class OpportunityView(MethodView):
    @require("app", "member", "organiser", "catalogue")
    @blp.response(200, OpportunityOut)
    def get(self, opportunity_id):
        """An opportunity and what an hour there is worth."""
        return services.get_opportunity(runtime(), current_principal(), opportunity_id)


@blp.route("/opportunities/<opportunity_id>/code")
class OpportunityCode(MethodView):
    @require("organiser")
    @blp.response(200, CodeOut)
    def get(self, opportunity_id):
        """The current check-in code and its QR, for the organiser's screen; fetch again when it expires."""
        return services.current_code(runtime(), current_principal(), opportunity_id)


@blp.route("/checkins")
class Checkins(MethodView):
    @require("app", "member")
    @_idempotent_when_keyed
    @blp.arguments(NewCheckin)
    @blp.response(201, AttendanceOut)
    @blp.alt_response(200, schema=AttendanceOut, description="Checked out: the attendance awaiting confirmation")
    def post(self, body):
        """Check a member in (201, a new attendance) or out (200, the attendance awaiting confirmation)."""
        action = body.pop("action")
        attendance = services.record_scan(runtime(), current_principal(), Scan(**body), action=action)
        # The contract: a check-in creates an attendance (201), a check-out updates it (200).
        return attendance, 201 if action == "in" else 200


@blp.route("/attendances")
class Attendances(MethodView):
    @require("app", "member", "organiser", "support")
    @blp.arguments(AttendanceQuery, location="query")
    @blp.response(200, page_schema(AttendanceOut))
    def get(self, query):
        """Attendances, oldest check-in first: an organiser sees only its own
        (`?status=awaiting_confirmation` is its queue), a member only theirs; the app names `member_id`."""
        return services.list_attendances(runtime(), current_principal(), **query)


@blp.route("/attendances/<attendance_id>")
class AttendanceView(MethodView):
    @require("app", "member", "organiser", "support")
    @blp.response(200, AttendanceOut)
    def get(self, attendance_id):
        """One attendance and where it stands."""
        return services.get_attendance(runtime(), current_principal(), attendance_id)


@blp.route("/attendances/<attendance_id>/confirm")
class AttendanceConfirm(MethodView):
    @require("organiser")
    @blp.arguments(Confirmation)
    @blp.response(200, AttendanceOut)
    def post(self, body, attendance_id):
        """Confirm an attendance at one of your opportunities: its points become available (repeatable)."""
        return services.confirm_attendance(runtime(), current_principal(), attendance_id, minutes=body["minutes"])


@blp.route("/attendances/<attendance_id>/reject")
class AttendanceReject(MethodView):
    @require("organiser")
    @blp.arguments(Rejection)
    @blp.response(200, AttendanceOut)
    def post(self, body, attendance_id):
        """Refuse an attendance at one of your opportunities, with a reason: its pending points go (repeatable)."""
        return services.reject_attendance(runtime(), current_principal(), attendance_id, reason=body["reason"])
