"""One schema per event type: the single contract between the services.

Changes are additive (new optional fields); anything else is a new `.vN` type.
Consumers ignore fields they do not know, so producers can add before consumers learn.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

MODES = ("bus", "tram", "rail", "train", "ferry", "other")
JOURNEY_KINDS = ("paired", "single", "incomplete")


class EventData(Schema):
    class Meta:
        unknown = EXCLUDE


class MemberEvent(EventData):
    member_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class JourneyCompleted(MemberEvent):
    journey_id = fields.String(required=True)
    operator_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(JOURNEY_KINDS))
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    started_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(allow_none=True, load_default=None)
    route_id = fields.String(allow_none=True, load_default=None)
    origin_stop_id = fields.String(allow_none=True, load_default=None)
    destination_stop_id = fields.String(allow_none=True, load_default=None)
    distance_km = fields.Float(allow_none=True, load_default=None)
    distance_source = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(("taps", "stops")),
                                    metadata={"description": "taps: their own positions; stops: GTFS stops"})
    revision = fields.Integer(load_default=1)


class JourneyVoided(MemberEvent):
    journey_id = fields.String(required=True)
    operator_id = fields.String(required=True)
    reason = fields.String(required=True)
    revision = fields.Integer(load_default=1)


class AttendanceConfirmed(MemberEvent):
    attendance_id = fields.String(required=True)
    opportunity_id = fields.String(required=True)
    organiser_id = fields.String(required=True)
    checked_in_at = fields.AwareDateTime(required=True)
    checked_out_at = fields.AwareDateTime(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=0))


# What a partner's attested activity counts for: the city's priorities, the unit its quantity is in.
PRIORITIES = ("health", "transport", "climate", "housing", "wellbeing")
ACTIVITY_KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "leisure.visit": (("health",), "visit"),
    "cycle.trip": (("transport", "climate"), "km"),
    "recycling.visit": (("climate",), "visit"),
    "home.energy_check": (("housing", "climate"), "check"),
    "library.visit": (("wellbeing",), "visit"),
}


class ActivityRecorded(MemberEvent):
    """An activity a provider attests (or its correction, with the next `revision`)."""
    provider_id = fields.String(required=True)
    activity_id = fields.String(required=True, metadata={"description": "The provider's own id for it"})
    kind = fields.String(required=True, validate=validate.OneOf(ACTIVITY_KINDS))
    priorities = fields.List(fields.String(validate=validate.OneOf(PRIORITIES)), load_default=list)
    occurred_at = fields.AwareDateTime(required=True)
    quantity = fields.Float(required=True, validate=validate.Range(min=0))
    unit = fields.String(required=True)
    revision = fields.Integer(load_default=1)


class ActivityVoided(MemberEvent):
    provider_id = fields.String(required=True)
    activity_id = fields.String(required=True)
    kind = fields.String(allow_none=True, load_default=None)
    reason = fields.String(allow_none=True, load_default=None)
    revision = fields.Integer(load_default=1)


class MemberRegistered(MemberEvent):
    registered_at = fields.AwareDateTime(allow_none=True, load_default=None)


USUAL_MODES = ("car", "bus", "rail", "tram", "cycle", "walk", "other")


class MemberErased(MemberEvent):
    withdrawn_points = fields.Integer(load_default=0, validate=validate.Range(min=0), metadata={
        "description": "Points the member could still spend, withdrawn by the ledger at erasure"})


class MemberProfileUpdated(MemberEvent):
    """The research profile: area and baseline travel mode, usable only with consent."""
    home_area = fields.String(allow_none=True, load_default=None,
                              metadata={"description": "Postcode district, e.g. LS6"})
    usual_mode = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(USUAL_MODES))
    research_consent = fields.Boolean(required=True, truthy={True}, falsy={False})


class ExportRequested(MemberEvent):
    """Subject access: every service answers with what it holds about the member, sealed to `public_key`."""
    export_id = fields.String(required=True)
    public_key = fields.String(required=True, metadata={"description": "X25519 public key, base64"})
    requested_at = fields.AwareDateTime(allow_none=True, load_default=None)


class ExportPart(MemberEvent):
    """One service's answer (or one piece of it): gzip'd JSON sealed to the request's key, base64."""
    export_id = fields.String(required=True)
    service = fields.String(required=True)
    piece = fields.Integer(required=True, validate=validate.Range(min=0))
    pieces = fields.Integer(required=True, validate=validate.Range(min=1))
    sealed = fields.String(required=True)


class PointsMovement(MemberEvent):
    points = fields.Integer(required=True)
    transfer_id = fields.String(allow_none=True, load_default=None)
    source_type = fields.String(allow_none=True, load_default=None)
    source_id = fields.String(allow_none=True, load_default=None)
    rule_id = fields.String(allow_none=True, load_default=None)
    rule_version = fields.Integer(allow_none=True, load_default=None)
    reason = fields.String(allow_none=True, load_default=None)
    redemption_id = fields.String(allow_none=True, load_default=None)
    expires_at = fields.AwareDateTime(allow_none=True, load_default=None)
    available = fields.Integer(allow_none=True, load_default=None)
    account = fields.String(load_default="available", validate=validate.OneOf(("available", "pending")), metadata={
        "description": "The balance moved: pending for volunteering points refused before confirmation"})


class HoldRejected(MemberEvent):
    redemption_id = fields.String(required=True)
    points = fields.Integer(required=True)
    reason = fields.String(required=True)


class TierChanged(MemberEvent):
    tier = fields.String(required=True)
    previous_tier = fields.String(allow_none=True, load_default=None)
    lifetime_earned = fields.Integer(required=True)


class ChallengeProgressed(MemberEvent):
    challenge_id = fields.String(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("count", "streak")))
    progress = fields.Integer(required=True, validate=validate.Range(min=0), metadata={
        "description": "Activities counted (count) or consecutive periods reached (streak)"})
    goal = fields.Integer(required=True, validate=validate.Range(min=1))


class ChallengeCompleted(ChallengeProgressed):
    bonus_points = fields.Integer(required=True, validate=validate.Range(min=0))
    completed_at = fields.AwareDateTime(required=True)


class RedemptionEvent(MemberEvent):
    redemption_id = fields.String(required=True)
    reward_id = fields.String(required=True)
    partner_id = fields.String(allow_none=True, load_default=None)
    cost_points = fields.Integer(required=True, validate=validate.Range(min=0))
    reward_title = fields.String(allow_none=True, load_default=None)
    expires_at = fields.AwareDateTime(allow_none=True, load_default=None)
    reason = fields.String(allow_none=True, load_default=None)
    funded_by = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(("partner", "council")))
    settlement_pence = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0), metadata={
        "description": "What the council owes the partner for this voucher when redeemed (council-funded)"})


class CredentialRevoked(EventData):
    jti = fields.String(required=True)
    revoked_at = fields.AwareDateTime(required=True)


SCHEMAS: dict[str, Schema] = {
    "transit.journey.completed": JourneyCompleted(),
    "transit.journey.corrected": JourneyCompleted(),
    "transit.journey.voided": JourneyVoided(),
    "volunteering.attendance.confirmed": AttendanceConfirmed(),
    "activity.recorded": ActivityRecorded(),
    "activity.corrected": ActivityRecorded(),
    "activity.voided": ActivityVoided(),
    "member.registered": MemberRegistered(),
    "member.erased": MemberErased(),
    "member.profile_updated": MemberProfileUpdated(),
    "member.export_requested": ExportRequested(),
    "member.export_part": ExportPart(),
    "points.earned": PointsMovement(),
    "points.pending": PointsMovement(),
    "points.confirmed": PointsMovement(),
    "points.held": PointsMovement(),
    "points.hold_rejected": HoldRejected(),
    "points.captured": PointsMovement(),
    "points.released": PointsMovement(),
    "points.expired": PointsMovement(),
    "points.expiring_soon": PointsMovement(),
    "points.adjusted": PointsMovement(),
    "points.reversed": PointsMovement(),
    "points.donated": PointsMovement(),
    "tier.changed": TierChanged(),
    "challenge.progressed": ChallengeProgressed(),
    "challenge.completed": ChallengeCompleted(),
    "redemption.requested": RedemptionEvent(),
    "redemption.issued": RedemptionEvent(),
    "redemption.rejected": RedemptionEvent(),
    "redemption.completed": RedemptionEvent(),
    "redemption.cancelled": RedemptionEvent(),
    "redemption.expired": RedemptionEvent(),
    "credential.revoked": CredentialRevoked(),
}


def schema_for(event_type: str) -> Schema:
    return SCHEMAS[event_type]
