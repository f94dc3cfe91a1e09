"""Members, balances and history."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.events.schemas import USUAL_MODES
from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import require

from .. import services
from . import runtime

blp = Blueprint("members", __name__, url_prefix="/v1/members", description="Members and their points")

MEMBER_ID = IDENTIFIER


class NewMember(Schema):
    member_id = fields.String(required=True, validate=MEMBER_ID)


class MemberOut(Schema):
    member_id = fields.String()
    registered_at = fields.DateTime()
    tier = fields.String()


class Expiring(Schema):
    points = fields.Integer()
    expires_at = fields.DateTime()


class BalanceOut(Schema):
    member_id = fields.String()
    available = fields.Integer(metadata={"description": "Spendable now"})
    pending = fields.Integer(metadata={"description": "Awaiting confirmation (e.g. volunteering)"})
    held = fields.Integer(metadata={"description": "Reserved for redemptions in progress"})
    lifetime_earned = fields.Integer()
    tier = fields.String()
    expiring = fields.List(fields.Nested(Expiring), metadata={"description": "Points expiring in the next 30 days"})


class TransactionOut(Schema):
    transfer_id = fields.String()
    points = fields.Integer(metadata={"description": "Into (+) or out of (−) the available balance"})
    code = fields.String()
    source_type = fields.String(allow_none=True)
    source_id = fields.String(allow_none=True)
    rule_id = fields.String(allow_none=True)
    rule_version = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    occurred_at = fields.DateTime(allow_none=True)
    details = fields.Dict(allow_none=True, metadata={"description": "Why: the rules and versions applied"})
    created_at = fields.DateTime()


class ProfileIn(Schema):
    home_area = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=8), metadata={
        "description": "Home postcode district, e.g. LS6 (never a full postcode)"})
    usual_mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(USUAL_MODES), metadata={
        "description": "The baseline survey: how the member made such trips before joining"})
    research_consent = fields.Boolean(load_default=False, truthy={True}, falsy={False}, metadata={
        "description": "Without it the member counts only in scheme totals, never in area or survey breakdowns"})


class ProfileOut(ProfileIn):
    member_id = fields.String()
    research_consent = fields.Boolean()
    updated_at = fields.DateTime(allow_none=True)


@blp.route("")
class Members(MethodView):
    @require("app")
    @blp.arguments(NewMember)
    @blp.response(201, MemberOut)
    @blp.alt_response(200, schema=MemberOut, description="The member is registered already")
    def post(self, body):
        """Register a member (idempotent: 200 when already registered)."""
        registration = services.register_member(runtime(), body["member_id"])
        # The contract: 201 for a new member, 200 when it already exists.
        return registration.member, 201 if registration.created else 200


@blp.route("/<member_id>")
class OneMember(MethodView):
    @require("app")
    @blp.response(204)
    def delete(self, member_id):
        """Erase a member: every service forgets what it holds about them (`member.erased`).

        The ledger keeps its transfers under the pseudonymous id, as any financial record must;
        points still available are withdrawn to the issuance account."""
        services.erase_member(runtime(), member_id)


@blp.route("/<member_id>/profile")
class MemberProfile(MethodView):
    @require("app")
    @blp.response(200, ProfileOut)
    def get(self, member_id):
        """The member's research profile."""
        return services.profile(runtime(), member_id)

    @require("app")
    @blp.arguments(ProfileIn)
    @blp.response(200, ProfileOut)
    def put(self, body, member_id):
        """Set the research profile (all of it: a field left out is cleared)."""
        return services.set_profile(runtime(), member_id, **body)


@blp.route("/<member_id>/balance")
class MemberBalance(MethodView):
    @require("app")
    @blp.response(200, BalanceOut)
    def get(self, member_id):
        """The member's available, pending and held points."""
        return services.balance(runtime(), member_id)


@blp.route("/<member_id>/transactions")
class MemberTransactions(MethodView):
    @require("app")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(TransactionOut))
    def get(self, args, member_id):
        """Ledger history, newest first."""
        return services.transactions(runtime(), member_id, limit=args["limit"], cursor=args["cursor"])
