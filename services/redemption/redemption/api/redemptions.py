"""Members redeeming rewards: the app starts a redemption, follows it, shows its voucher, cancels it."""
from __future__ import annotations

import uuid
from datetime import datetime

from flask import Response, current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.errors import Gone, Invalid, NotFound
from rewards_shared.idempotency import idempotent
from rewards_shared.pagination import PageArgs, decode_cursor, keyset_page
from rewards_shared.web import current_principal, require

from .. import redemptions, vouchers, waiting
from ..models import STATUSES, Redemption
from . import ID, database

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
    member_id = fields.String()
    reward_id = fields.String()
    partner_id = fields.String()
    reward_title = fields.String()
    cost_points = fields.Integer()
    status = fields.String(metadata={"enum": list(STATUSES)})
    voucher_code = fields.String(metadata={"description": "While issued, to the app only: show it at the till"})
    voucher_qr = fields.Dict(metadata={"description": "Paths of the voucher's QR code as PNG and SVG"})
    expires_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    requested_at = fields.DateTime()
    issued_at = fields.DateTime(allow_none=True)
    redeemed_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)


class RedemptionPage(Schema):
    items = fields.List(fields.Nested(RedemptionOut))
    next_cursor = fields.String(allow_none=True)


def _out(redemption: Redemption) -> dict:
    out = {column: getattr(redemption, column) for column in (
        "member_id", "reward_id", "partner_id", "reward_title", "cost_points", "status", "expires_at", "reason",
        "requested_at", "issued_at", "redeemed_at", "ended_at")}
    out["redemption_id"] = str(redemption.id)
    if redemption.status == "issued" and current_principal().kind == "app":
        code = current_app.extensions["voucher_key"].code_for(redemption.id)
        out["voucher_code"] = vouchers.display(code)
        base = f"/v1/redemptions/{redemption.id}/voucher"
        out["voucher_qr"] = {"png": base + ".png", "svg": base + ".svg"}
    return out


def _parse_id(redemption_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(redemption_id)
    except ValueError:
        raise NotFound(f"No redemption {redemption_id}.") from None


@blp.route("/redemptions")
class Redemptions(MethodView):
    @require("app")
    @idempotent
    @blp.arguments(NewRedemption)
    @blp.response(202, Accepted)
    def post(self, body):
        """Spend a member's points on a reward: stock is reserved now, the voucher follows once the points
        are held. Needs an Idempotency-Key; 409 with `reason` when the reward cannot be redeemed."""
        redemption_id = redemptions.redemption_id_for(current_principal().role, g.idempotency_key)
        with database().transaction() as session:
            redemption = redemptions.request(session, redemption_id=redemption_id, **body)
            accepted = {"redemption_id": str(redemption.id), "status": redemption.status}
        return accepted, 202, {"Location": f"/v1/redemptions/{redemption_id}"}


@blp.route("/redemptions/<redemption_id>")
class RedemptionItem(MethodView):
    @require("app")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(200, RedemptionOut)
    def get(self, args, redemption_id):
        """Where the redemption stands; `?wait=N` holds the answer until it leaves pending or N seconds pass."""
        parsed = _parse_id(redemption_id)
        if args["wait"] > 0:
            waiting.wait_until_settled(database(), parsed, args["wait"])
        with database().transaction() as session:
            return _out(redemptions.get(session, parsed))


@blp.route("/redemptions/<redemption_id>/cancel")
class RedemptionCancel(MethodView):
    @require("app")
    @blp.response(200, RedemptionOut)
    def post(self, redemption_id):
        """Cancel before the voucher is used: the stock returns and the member's points are released.
        Cancelling twice is harmless; a used or expired voucher answers 409."""
        with database().transaction() as session:
            return _out(redemptions.cancel(session, _parse_id(redemption_id)))


@blp.route("/redemptions/<redemption_id>/voucher.<any(png, svg):kind>")
class VoucherImage(MethodView):
    @require("app")
    @blp.response(200)
    def get(self, redemption_id, kind):
        """The voucher as a QR code, while it can be used (404 before it is issued, 410 once it is over)."""
        parsed = _parse_id(redemption_id)
        with database().transaction() as session:
            redemption = redemptions.get(session, parsed)
        if redemption.status == "pending":
            raise NotFound(f"Redemption {redemption_id} has no voucher yet; it is pending.")
        if redemption.status != "issued":
            raise Gone(f"Redemption {redemption_id} has no usable voucher; it is {redemption.status}.")
        code = current_app.extensions["voucher_key"].code_for(parsed)
        if kind == "png":
            return Response(vouchers.qr_png(code), mimetype="image/png", headers={"Cache-Control": "no-store"})
        return Response(vouchers.qr_svg(code), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@blp.route("/members/<member_id>/redemptions")
class MemberRedemptions(MethodView):
    @require("app")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, RedemptionPage)
    def get(self, args, member_id):
        """A member's redemptions, newest first."""
        cursor = decode_cursor(args["cursor"], 2)
        before = None
        if cursor:
            try:
                before = (datetime.fromisoformat(cursor[0]), uuid.UUID(cursor[1]))
            except (TypeError, ValueError):
                raise Invalid("The cursor is not one this API gave out.", field="cursor") from None
        with database().transaction() as session:
            rows = redemptions.history(session, member_id, limit=args["limit"] + 1, before=before)
            page, cursor = keyset_page(rows, args["limit"], lambda r: (r.requested_at.isoformat(), str(r.id)))
            items = [_out(redemption) for redemption in page]
        return {"items": items, "next_cursor": cursor}
