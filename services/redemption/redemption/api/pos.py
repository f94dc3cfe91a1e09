"""The partner's till: check a voucher, then use it. Partner credentials only, and only their own vouchers."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rewards_shared.errors import Forbidden, Invalid
from rewards_shared.idempotency import idempotent
from rewards_shared.web import current_principal, require

from .. import redemptions, vouchers
from ..models import Redemption
from . import database

blp = Blueprint("pos", __name__, url_prefix="/v1/pos", description="Validating and redeeming vouchers at the till")


class VoucherOut(Schema):
    code = fields.String(metadata={"description": "The code as printed, in groups of four"})
    redemption_id = fields.String()
    reward_id = fields.String()
    reward_title = fields.String()
    status = fields.String()
    expires_at = fields.DateTime(allow_none=True)
    redeemed_at = fields.DateTime(allow_none=True)


def _partner_id() -> str:
    principal = current_principal()
    if principal.kind != "partner":
        raise Forbidden("Vouchers are validated and redeemed with a partner's credential.")
    return principal.subject


def _canonical(code: str) -> str:
    try:
        return vouchers.normalise(code)
    except vouchers.MalformedCode as error:
        raise Invalid(str(error), field="code") from None


def _out(code: str, redemption: Redemption) -> dict:
    return {"code": vouchers.display(code), "redemption_id": str(redemption.id), "reward_id": redemption.reward_id,
            "reward_title": redemption.reward_title, "status": redemption.status,
            "expires_at": redemption.expires_at, "redeemed_at": redemption.redeemed_at}


@blp.route("/vouchers/<code>/validate")
class Validate(MethodView):
    @require("partner")
    @blp.response(200, VoucherOut)
    def post(self, code):
        """Whether the voucher can be used now: 200 if so; 409 used or cancelled, 410 expired,
        404 unknown or another partner's."""
        partner_id, canonical = _partner_id(), _canonical(code)
        with database().transaction() as session:
            return _out(canonical, redemptions.validate(session, canonical, partner_id))


@blp.route("/vouchers/<code>/redeem")
class Redeem(MethodView):
    @require("partner")
    @idempotent
    @blp.response(200, VoucherOut)
    def post(self, code):
        """Use the voucher, once (needs an Idempotency-Key; a retry with the same key replays the answer).
        409 used or cancelled, 410 expired, 404 unknown or another partner's."""
        partner_id, canonical = _partner_id(), _canonical(code)
        with database().transaction() as session:
            redeemed = redemptions.redeem(session, canonical, partner_id, by=current_principal().id)
            return _out(canonical, redeemed)
