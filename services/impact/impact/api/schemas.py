"""The report's shape, for the OpenAPI document. A null number is a suppressed cell (see `suppressed`)."""
from marshmallow import Schema, fields, validate

from ..report.figures import GROUPINGS

Count = fields.Integer(allow_none=True)


def _number(description: str = "") -> fields.Float:
    return fields.Float(allow_none=True, metadata={"description": description} if description else {})


class ReportQuery(Schema):
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "First day (Europe/London)"})
    to = fields.Date(required=True, metadata={"description": "Last day, included"})
    group_by = fields.String(load_default=None, validate=validate.OneOf(GROUPINGS))


class PageQuery(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)


class Method(Schema):
    co2e = fields.String()
    factor_set = fields.String()
    factor_sets = fields.List(fields.String())
    min_cell = fields.Integer()
    peak = fields.String()
    active = fields.String()
    consent = fields.String()
    cost = fields.String()
    suppression = fields.String()


class RetentionMonth(Schema):
    month = fields.String()
    active = fields.Integer(allow_none=True)
    retained = fields.Integer(allow_none=True)
    rate = _number("retained ÷ active")


class Retention(Schema):
    rate = _number("Share of month-N active members active again in month N+1, pooled over the period")
    by_month = fields.List(fields.Nested(RetentionMonth))


class Members(Schema):
    registered = fields.Integer(allow_none=True)
    registered_in_period = fields.Integer(allow_none=True)
    active = fields.Integer(allow_none=True, metadata={"description": "Earned points at least once in the period"})
    retention = fields.Nested(Retention)


class Travel(Schema):
    count = fields.Integer(allow_none=True)
    km = _number()
    co2e_avoided_kg = _number()
    members = fields.Integer(allow_none=True)


class Journeys(Travel):
    km_unknown = fields.Integer(allow_none=True, metadata={"description": "Journeys with no known distance"})
    by_mode = fields.Dict(keys=fields.String(), values=fields.Nested(Travel))
    peak = fields.Nested(Travel)
    off_peak = fields.Nested(Travel)


class Volunteering(Schema):
    attendances = fields.Integer(allow_none=True)
    hours = _number()
    members = fields.Integer(allow_none=True)


class PriorityActivities(Schema):
    count = fields.Integer(allow_none=True)
    members = fields.Integer(allow_none=True)


class KindActivities(PriorityActivities):
    quantity = _number("In the kind's unit (km for cycle trips, else how many)")
    unit = fields.String()


class Activities(PriorityActivities):
    by_priority = fields.Dict(keys=fields.String(), values=fields.Nested(PriorityActivities), metadata={
        "description": "health, transport, climate, housing, wellbeing; an activity counts for each of its kind's"})
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(KindActivities))


class PartnerRedemptions(Schema):
    count = fields.Integer(allow_none=True)
    members = fields.Integer(allow_none=True)
    owed_gbp = _number()


class Redemptions(Schema):
    count = fields.Integer(allow_none=True)
    members = fields.Integer(allow_none=True)
    by_partner = fields.Dict(keys=fields.String(), values=fields.Nested(PartnerRedemptions))


class Cost(Schema):
    owed_to_partners_gbp = _number()
    per_active_member_gbp = _number()
    per_tonne_co2e_gbp = _number()


class Group(Schema):
    group_id = fields.String()
    donated = fields.Integer(allow_none=True)
    donors = fields.Integer(allow_none=True)


class Suppressed(Schema):
    cell = fields.String()
    reason = fields.String()


class Breakdown(Schema):
    by = fields.String()
    rows = fields.List(fields.Dict())


class ReportOut(Schema):
    from_ = fields.String(data_key="from", attribute="from", metadata={"description": "First day"})
    to = fields.String(metadata={"description": "Last day, included"})
    method = fields.Nested(Method)
    members = fields.Nested(Members)
    journeys = fields.Nested(Journeys)
    co2e_avoided_kg = _number()
    volunteering = fields.Nested(Volunteering)
    activities = fields.Nested(Activities, metadata={"description": "Activities attested by providers"})
    points = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True), metadata={
        "description": "issued, redeemed, expired, donated, reversed, adjusted, withdrawn (erasures) in the "
                       "period; outstanding at its end"})
    redemptions = fields.Nested(Redemptions)
    cost = fields.Nested(Cost)
    groups = fields.List(fields.Nested(Group))
    breakdown = fields.Nested(Breakdown)
    suppressed = fields.List(fields.Nested(Suppressed))


class JourneyImpactOut(Schema):
    journey_id = fields.String()
    mode = fields.String()
    km = fields.Float(allow_none=True)
    baseline_mode = fields.String(allow_none=True)
    factor_set = fields.String()
    mode_factor_kg_per_km = fields.Float(allow_none=True)
    car_factor_kg_per_km = fields.Float(allow_none=True)
    co2e_avoided_kg = fields.Float()
    method = fields.String()
