"""The partner's till: check a voucher, then use it. Partner credentials only, and only their own vouchers."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rewards_shared.idempotency import idempotent
from rewards_shared.web import current_principal, require

from .. import services
from . import runtime

blp = Blueprint("pos", __name__, url_prefix="/v1/pos", description="Validating and redeeming vouchers at the till")


class VoucherOut(Schema):
    code = fields.String(metadata={"description": "The code as printed, in groups of four"})
    redemption_id = fields.String()
    reward_id = fields.String()
    reward_title = fields.String()
    status = fields.String()
    expires_at = fields.DateTime(allow_none=True)
    redeemed_at = fields.DateTime(allow_none=True)


@blp.route("/vouchers/<code>/validate")
class Validate(MethodView):
    @require("partner")
    @blp.response(200, VoucherOut)
    def post(self, code):
        """Whether the voucher can be used now: 200 if so; 409 used or cancelled, 410 expired,
        404 unknown or another partner's."""
        return services.validate_voucher(runtime(), current_principal(), code)


@blp.route("/vouchers/<code>/redeem")
class Redeem(MethodView):
    @require("partner")
    @idempotent
    @blp.response(200, VoucherOut)
    def post(self, code):
        """Use the voucher, once (needs an Idempotency-Key; a retry with the same key replays the answer).
        409 used or cancelled, 410 expired, 404 unknown or another partner's."""
        return services.redeem_voucher(runtime(), current_principal(), code, key=g.idempotency_key)
