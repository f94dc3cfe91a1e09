"""Challenges and streaks: admin staff define them; the member sees the live ones with their progress."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import current_principal, require

from .. import challenges, services
from . import runtime

blp = Blueprint("challenges", __name__, url_prefix="/v1", description="Challenges and streaks")


class NewChallenge(Schema):
    challenge_id = fields.String(required=True, validate=IDENTIFIER)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default=None, validate=validate.Length(max=2000))
    kind = fields.String(required=True, validate=validate.OneOf(challenges.KINDS), metadata={
        "description": "count: `target` activities in the window; streak: `periods` consecutive weeks or "
                       "months (Europe/London) with at least `min_per_period` each"})
    activity = fields.String(required=True, validate=validate.OneOf(challenges.ACTIVITIES))
    filter = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "transit.journey: mode (one or a list), sustainable, operator_id, kind; "
                       "volunteering.attendance: organiser_id, opportunity_id, min_minutes; "
                       "provider.activity: kind, provider_id, priority"})
    target = fields.Integer(load_default=None, validate=validate.Range(min=1, max=10_000))
    period = fields.String(load_default=None, validate=validate.OneOf(challenges.PERIODS))
    periods = fields.Integer(load_default=None, validate=validate.Range(min=1, max=520))
    min_per_period = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1000))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    bonus_points = fields.Integer(required=True, validate=validate.Range(min=0, max=1_000_000))


class ChallengeChange(Schema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=2000))
    ends_at = fields.AwareDateTime()
    active = fields.Boolean(metadata={"description": "false withdraws it: no more progress, members stop seeing it"})


class ChallengeOut(Schema):
    challenge_id = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    kind = fields.String()
    activity = fields.String()
    filter = fields.Dict()
    target = fields.Integer(allow_none=True)
    period = fields.String(allow_none=True)
    periods = fields.Integer(allow_none=True)
    min_per_period = fields.Integer(allow_none=True)
    goal = fields.Integer(metadata={"description": "target (count) or periods (streak)"})
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    bonus_points = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class MemberChallengeOut(ChallengeOut):
    progress = fields.Integer(metadata={"description": "Activities counted, or the longest run of periods"})
    completed = fields.Boolean()
    completed_at = fields.DateTime(allow_none=True)


class ChallengeQuery(PageArgs):
    active = fields.Boolean(load_default=None)


@blp.route("/challenges")
class Challenges(MethodView):
    @require("admin")
    @blp.arguments(NewChallenge)
    @blp.response(201, ChallengeOut)
    def post(self, body):
        """Define a challenge; completing it credits `bonus_points` once per member."""
        return services.create_challenge(runtime(), current_principal(), **body)

    @require("admin")
    @blp.arguments(ChallengeQuery, location="query")
    @blp.response(200, page_schema(ChallengeOut))
    def get(self, query):
        """Every challenge, by id."""
        return services.list_challenges(runtime(), **query)


@blp.route("/challenges/<challenge_id>")
class OneChallenge(MethodView):
    @require("admin")
    @blp.response(200, ChallengeOut)
    def get(self, challenge_id):
        """One challenge."""
        return services.get_challenge(runtime(), challenge_id)

    @require("admin")
    @blp.arguments(ChallengeChange)
    @blp.response(200, ChallengeOut)
    def patch(self, body, challenge_id):
        """Rename, describe, move the end or withdraw it; what progress rests on does not change."""
        return services.update_challenge(runtime(), challenge_id, **body)


@blp.route("/members/<member_id>/challenges")
class MemberChallenges(MethodView):
    @require("app", "member", "support")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(MemberChallengeOut))
    def get(self, args, member_id):
        """The challenges live now, soonest ending first, with the member's progress in each."""
        return services.member_challenges(runtime(), current_principal(), member_id, **args)
