"""Referral: a member's code, and the code a newcomer joined with."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.web import current_principal, require

from .. import services
from . import runtime

blp = Blueprint("referrals", __name__, url_prefix="/v1/members", description="Referral codes and referrals")


class ReferralCodeOut(Schema):
    member_id = fields.String()
    referral_code = fields.String(metadata={"description": "8 characters; typed in any case, hyphens ignored"})
    referred = fields.Integer(metadata={"description": "Members who joined with it"})
    rewarded = fields.Integer(metadata={"description": "Of those, the ones this member earned a bonus for"})


class ReferralIn(Schema):
    referral_code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class ReferralOut(Schema):
    member_id = fields.String()
    status = fields.String(metadata={"description": "pending (until the first rewarded activity) | rewarded | "
                                                    "referrer_at_limit (only the newcomer got a bonus)"})
    applied_at = fields.DateTime()
    rewarded_at = fields.DateTime(allow_none=True)


@blp.route("/<member_id>/referral-code")
class MemberReferralCode(MethodView):
    @require("app", "member")
    @blp.response(200, ReferralCodeOut)
    def get(self, member_id):
        """The member's referral code (made on first asking) and how many joined with it."""
        return services.referral_code(runtime(), current_principal(), member_id)


@blp.route("/<member_id>/referral")
class MemberReferral(MethodView):
    @require("app", "member")
    @blp.arguments(ReferralIn)
    @blp.response(200, ReferralOut)
    def post(self, body, member_id):
        """Apply the code the member joined with (until their first rewarded activity); the same code again
        is a repeat, another code a 409. Both members get the referral bonus at the member's first rewarded
        activity (a journey, an attendance or a provider's activity)."""
        return services.apply_referral(runtime(), current_principal(), member_id, body["referral_code"])
