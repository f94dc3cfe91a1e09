"""Members redeeming rewards: the app starts a redemption, follows it, shows its voucher, cancels it."""
from __future__ import annotations

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.idempotency import idempotent
from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.web import current_principal, require

from .. import services, waiting
from ..models import STATUSES
from . import ID, runtime

blp = Blueprint("redemptions", __name__, url_prefix="/v1", description="Redeeming rewards and their vouchers")


class NewRedemption(Schema):
    member_id = fields.String(required=True, validate=ID)
    reward_id = fields.String(required=True, validate=ID)


class Accepted(Schema):
    redemption_id = fields.String()
    status = fields.String()


class WaitArgs(Schema):
    wait = fields.Float(load_default=0, validate=validate.Range(min=0), metadata={
        "description": f"Seconds (at most {waiting.MAX_WAIT_SECONDS:.0f}) to wait for the status to leave pending"})


class RedemptionOut(Schema):
    redemption_id = fields.String()
    member_id = fields.String(allow_none=True, metadata={"description": "null once the member was erased"})
    reward_id = fields.String()
    partner_id = fields.String()
    reward_title = fields.String()
    cost_points = fields.Integer()
    status = fields.String(metadata={"enum": list(STATUSES)})
    voucher_code = fields.String(metadata={
        "description": "While issued, to the app and the member only: show it at the till"})
    voucher_qr = fields.Dict(metadata={"description": "Paths of the voucher's QR code as PNG and SVG"})
    expires_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    requested_at = fields.DateTime()
    issued_at = fields.DateTime(allow_none=True)
    redeemed_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)


@blp.route("/redemptions")
class Redemptions(MethodView):
    @require("app", "member")
    @idempotent
    @blp.arguments(NewRedemption)
    @blp.response(202, Accepted)
    def post(self, body):
        """Spend a member's points on a reward: stock is reserved now, the voucher follows once the points
        are held. Needs an Idempotency-Key; 409 with `reason` when the reward cannot be redeemed."""
        redemption = services.request_redemption(runtime(), current_principal(), g.idempotency_key, **body)
        accepted = {"redemption_id": str(redemption.id), "status": redemption.status}
        return accepted, 202, {"Location": f"/v1/redemptions/{redemption.id}"}


@blp.route("/redemptions/<redemption_id>")
class RedemptionItem(MethodView):
    @require("app", "member", "support")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(200, RedemptionOut)
    def get(self, args, redemption_id):
        """Where the redemption stands; `?wait=N` holds the answer until it leaves pending or N seconds pass."""
        return services.get_redemption(runtime(), current_principal(), redemption_id, wait_seconds=args["wait"])


@blp.route("/redemptions/<redemption_id>/cancel")
class RedemptionCancel(MethodView):
    @require("app", "member")
    @blp.response(200, RedemptionOut)
    def post(self, redemption_id):
        """Cancel before the voucher is used: the stock returns and the member's points are released.
        Cancelling twice is harmless; a used or expired voucher answers 409."""
        return services.cancel_redemption(runtime(), current_principal(), redemption_id)


@blp.route("/redemptions/<redemption_id>/voucher.<any(png, svg):kind>")
class VoucherImage(MethodView):
    @require("app", "member")
    @blp.response(200)
    def get(self, redemption_id, kind):
        """The voucher as a QR code, while it can be used (404 before it is issued, 410 once it is over)."""
        image = services.voucher_image(runtime(), current_principal(), redemption_id, kind)
        return Response(image.body, mimetype=image.media_type, headers={"Cache-Control": "no-store"})


@blp.route("/members/<member_id>/redemptions")
class MemberRedemptions(MethodView):
    @require("app", "member", "support")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(RedemptionOut))
    def get(self, args, member_id):
        """A member's redemptions, newest first."""
        return services.member_redemptions(runtime(), current_principal(), member_id, **args)
