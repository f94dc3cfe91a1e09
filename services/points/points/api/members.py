"""Members, balances and history."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.events.schemas import USUAL_MODES
from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import current_principal, require

from .. import services
from . import runtime

blp = Blueprint("members", __name__, url_prefix="/v1/members", description="Members and their points")

MEMBER_ID = IDENTIFIER


class NewMember(Schema):
    member_id = fields.String(required=True, validate=MEMBER_ID)
    referral_code = fields.String(load_default=None, validate=validate.Length(min=1, max=32), metadata={
        "description": "The code of the member who referred them; refused (and nothing registered) if unknown"})


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


class SummaryProfile(Schema):
    home_area = fields.String(allow_none=True)
    usual_mode = fields.String(allow_none=True)
    research_consent = fields.Boolean()


class SummaryOut(BalanceOut):
    registered_at = fields.DateTime()
    profile = fields.Nested(SummaryProfile)
    next_tier = fields.String(allow_none=True, metadata={"description": "null at the top tier"})
    points_to_next_tier = fields.Integer(allow_none=True, metadata={
        "description": "Lifetime points still to earn for the next tier"})


class CredentialRequest(Schema):
    ttl_seconds = fields.Integer(load_default=None, validate=validate.Range(min=60), metadata={
        "description": "Lifetime in seconds (default MEMBER_CREDENTIAL_TTL_SECONDS, 3600; at most "
                       "MEMBER_CREDENTIAL_MAX_TTL_SECONDS, 86400)"})


class CredentialOut(Schema):
    token = fields.String(metadata={"description": "Bearer token for role member:<member_id>"})
    credential_id = fields.String(metadata={"description": "Its id (jti), to revoke it"})
    role = fields.String()
    expires_at = fields.DateTime()


class ExportOut(Schema):
    export_id = fields.String()
    member_id = fields.String()
    status = fields.String(metadata={"description": "pending | done"})
    requested_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(metadata={"description": "When the export is deleted"})
    services = fields.Dict(metadata={"description": "Each service: answered | waiting"})
    document = fields.Dict(allow_none=True, metadata={
        "description": "When done: what every service holds about the member, by service"})


@blp.route("")
class Members(MethodView):
    @require("app")
    @blp.arguments(NewMember)
    @blp.response(201, MemberOut)
    @blp.alt_response(200, schema=MemberOut, description="The member is registered already")
    def post(self, body):
        """Register a member (idempotent: 200 when already registered)."""
        registration = services.register_member(runtime(), body["member_id"], referral_code=body["referral_code"])
        # The contract: 201 for a new member, 200 when it already exists.
        return registration.member, 201 if registration.created else 200


@blp.route("/<member_id>")
class OneMember(MethodView):
    @require("app", "member", "support")
    @blp.response(200, SummaryOut)
    def get(self, member_id):
        """The member: profile, tier, points, and the points still to earn for the next tier."""
        return services.summary(runtime(), current_principal(), member_id)

    @require("app", "support")
    @blp.response(204)
    def delete(self, member_id):
        """Erase a member: every service forgets what it holds about them (`member.erased`) within a minute.

        Holds are released, pending points dropped, points still available withdrawn to the issuance
        account; the ledger keeps its transfers under a random pseudonym, as any financial record must."""
        services.erase_member(runtime(), current_principal(), member_id)


@blp.route("/<member_id>/profile")
class MemberProfile(MethodView):
    @require("app", "member", "support")
    @blp.response(200, ProfileOut)
    def get(self, member_id):
        """The member's research profile."""
        return services.profile(runtime(), current_principal(), member_id)

    @require("app", "member")
    @blp.arguments(ProfileIn)
    @blp.response(200, ProfileOut)
    def put(self, body, member_id):
        """Set the research profile (all of it: a field left out is cleared)."""
        return services.set_profile(runtime(), current_principal(), member_id, **body)


@blp.route("/<member_id>/balance")
class MemberBalance(MethodView):
    @require("app", "member", "support")
    @blp.response(200, BalanceOut)
    def get(self, member_id):
        """The member's available, pending and held points."""
        return services.balance(runtime(), current_principal(), member_id)


@blp.route("/<member_id>/transactions")
class MemberTransactions(MethodView):
    @require("app", "member", "support")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(TransactionOut))
    def get(self, args, member_id):
        """Ledger history, newest first."""
        return services.transactions(runtime(), current_principal(), member_id, limit=args["limit"],
                                     cursor=args["cursor"])


@blp.route("/<member_id>/credentials")
class MemberCredentials(MethodView):
    @require("app")
    @blp.arguments(CredentialRequest)
    @blp.response(201, CredentialOut)
    def post(self, body, member_id):
        """A short-lived credential (`member:<member_id>`, 1 hour by default) that reaches only this member's
        own objects on every service, for the app to hand to the member's phone."""
        return services.issue_member_credential(runtime(), current_principal(), member_id,
                                                ttl_seconds=body["ttl_seconds"])


@blp.route("/<member_id>/exports")
class MemberExports(MethodView):
    @require("app", "member", "support")
    @blp.response(202, ExportOut)
    def post(self, member_id):
        """Subject access: gather what every service holds about the member into one document.
        Answers at once with the export; GET it (Location) until its status is done."""
        export = services.request_export(runtime(), current_principal(), member_id)
        return export, 202, {"Location": f"/v1/exports/{export['export_id']}"}


exports_blp = Blueprint("exports", __name__, url_prefix="/v1/exports", description="Subject access exports")


@exports_blp.route("/<export_id>")
class OneExport(MethodView):
    @require("app", "member", "support")
    @exports_blp.response(200, ExportOut)
    def get(self, export_id):
        """Where an export stands; once done, the whole document (kept until `expires_at`)."""
        return services.get_export(runtime(), current_principal(), export_id)
