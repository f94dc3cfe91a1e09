"""Partners and the rewards catalogue: managed by council staff, browsed by the app."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.errors import Forbidden, NotFound
from rewards_shared.pagination import PageArgs, decode_cursor, keyset_page
from rewards_shared.web import current_principal, require

from .. import catalogue, redemptions
from ..models import FUNDERS, Partner, Reward
from . import ID, database

blp = Blueprint("catalogue", __name__, url_prefix="/v1", description="Partners and the rewards catalogue")

MAX_POINTS = 1_000_000


class PartnerFields(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    contact_email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    active = fields.Boolean()


class NewPartner(PartnerFields):
    partner_id = fields.String(required=True, validate=ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class PartnerOut(Schema):
    partner_id = fields.String(attribute="id")
    name = fields.String()
    contact_email = fields.String(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PartnerPage(Schema):
    items = fields.List(fields.Nested(PartnerOut))
    next_cursor = fields.String(allow_none=True)


class RewardFields(Schema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    cost_points = fields.Integer(validate=validate.Range(min=1, max=MAX_POINTS),
                                 metadata={"description": "Points a member spends on one voucher"})
    stock = fields.Integer(validate=validate.Range(min=0, max=MAX_POINTS),
                           metadata={"description": "Vouchers still to be given out"})
    per_member_limit = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=1000),
                                      metadata={"description": "Live or used vouchers one member may hold; "
                                                               "null for no limit"})
    valid_from = fields.AwareDateTime(allow_none=True)
    valid_until = fields.AwareDateTime(allow_none=True)
    voucher_valid_days = fields.Integer(validate=validate.Range(min=1, max=catalogue.MAX_VOUCHER_VALID_DAYS))
    funded_by = fields.String(validate=validate.OneOf(FUNDERS),
                              metadata={"description": "Who pays for what the partner gives away"})
    settlement_pence = fields.Integer(validate=validate.Range(min=0, max=100_000),
                                      metadata={"description": "What the council pays the partner per redeemed "
                                                               "voucher of a council-funded reward"})
    active = fields.Boolean()


class NewReward(RewardFields):
    reward_id = fields.String(required=True, validate=ID)
    partner_id = fields.String(required=True, validate=ID)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    cost_points = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_POINTS))
    stock = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_POINTS))
    funded_by = fields.String(load_default="partner", validate=validate.OneOf(FUNDERS))
    settlement_pence = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100_000))
    voucher_valid_days = fields.Integer(load_default=14,
                                        validate=validate.Range(min=1, max=catalogue.MAX_VOUCHER_VALID_DAYS))


class RewardOut(Schema):
    reward_id = fields.String()
    partner_id = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    cost_points = fields.Integer()
    stock = fields.Integer()
    per_member_limit = fields.Integer(allow_none=True)
    valid_from = fields.DateTime(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)
    voucher_valid_days = fields.Integer()
    available = fields.Boolean()
    unavailable_reason = fields.String(allow_none=True, metadata={
        "description": "withdrawn, not_yet_open, closed or out_of_stock"})
    funded_by = fields.String(metadata={"description": "Shown to staff and the partner only"})
    settlement_pence = fields.Integer(metadata={"description": "Shown to staff and the partner only"})
    active = fields.Boolean()


class RewardPage(Schema):
    items = fields.List(fields.Nested(RewardOut))
    next_cursor = fields.String(allow_none=True)


class RewardQuery(PageArgs):
    partner_id = fields.String(validate=ID)
    available = fields.Boolean(metadata={"description": "Only what a member can redeem now (the app's default)"})


def _reward_out(session, reward: Reward) -> dict:
    partner = session.get(Partner, reward.partner_id)
    reason = catalogue.unavailable_because(reward, partner, redemptions.now())
    out = {column: getattr(reward, column) for column in (
        "partner_id", "title", "description", "cost_points", "stock", "per_member_limit", "valid_from",
        "valid_until", "voucher_valid_days", "active", "funded_by", "settlement_pence")}
    out.update(reward_id=reward.id, available=reason is None, unavailable_reason=reason)
    if current_principal().kind == "app":
        del out["funded_by"], out["settlement_pence"]
    return out


@blp.route("/partners")
class Partners(MethodView):
    @require("admin")
    @blp.arguments(NewPartner)
    @blp.response(201, PartnerOut)
    def post(self, body):
        """Register a partner (200 when the same partner exists already)."""
        with database().transaction() as session:
            partner, created = catalogue.add_partner(session, id=body.pop("partner_id"), **body)
        return partner, 201 if created else 200

    @require("admin")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PartnerPage)
    def get(self, args):
        """Every partner, by id."""
        cursor = decode_cursor(args["cursor"], 1)
        with database().transaction() as session:
            rows = catalogue.partners(session, limit=args["limit"] + 1, after=cursor[0] if cursor else None)
        page, cursor = keyset_page(rows, args["limit"], lambda partner: (partner.id,))
        return {"items": page, "next_cursor": cursor}


@blp.route("/partners/<partner_id>")
class PartnerItem(MethodView):
    @require("partner")
    @blp.response(200, PartnerOut)
    def get(self, partner_id):
        """One partner (staff, or the partner itself)."""
        _authorise_partner(partner_id)
        with database().transaction() as session:
            return catalogue.partner(session, partner_id)

    @require("admin")
    @blp.arguments(PartnerFields)
    @blp.response(200, PartnerOut)
    def patch(self, changes, partner_id):
        """Rename, change the contact, or withdraw a partner (its rewards stop being redeemable)."""
        with database().transaction() as session:
            return catalogue.update_partner(session, partner_id, changes)


@blp.route("/rewards")
class Rewards(MethodView):
    @require("admin")
    @blp.arguments(NewReward)
    @blp.response(201, RewardOut)
    def post(self, body):
        """Add a reward to the catalogue (200 when the same reward exists already)."""
        reward_id = body.pop("reward_id")
        terms = {**body, "id": reward_id}
        with database().transaction() as session:
            reward, created = catalogue.add_reward(session, terms)
            return _reward_out(session, reward), 201 if created else 200

    @require("app", "partner")
    @blp.arguments(RewardQuery, location="query")
    @blp.response(200, RewardPage)
    def get(self, args):
        """The catalogue. The app sees what members can redeem now; a partner sees its own rewards."""
        principal = current_principal()
        partner_id = principal.subject if principal.kind == "partner" else args.get("partner_id")
        available = args.get("available", principal.kind == "app")
        cursor = decode_cursor(args["cursor"], 1)
        with database().transaction() as session:
            rows = catalogue.rewards(session, limit=args["limit"] + 1, after=cursor[0] if cursor else None,
                                     partner_id=partner_id, available_at=redemptions.now() if available else None)
            page, cursor = keyset_page(rows, args["limit"], lambda reward: (reward.id,))
            items = [_reward_out(session, reward) for reward in page]
        return {"items": items, "next_cursor": cursor}


@blp.route("/rewards/<reward_id>")
class RewardItem(MethodView):
    @require("app", "partner")
    @blp.response(200, RewardOut)
    def get(self, reward_id):
        """One reward."""
        with database().transaction() as session:
            reward = catalogue.reward(session, reward_id)
            if current_principal().kind == "partner":
                _authorise_partner(reward.partner_id, hide=f"No reward {reward_id}.")
            return _reward_out(session, reward)

    @require("admin")
    @blp.arguments(RewardFields)
    @blp.response(200, RewardOut)
    def patch(self, changes, reward_id):
        """Change a reward's terms, restock it, or withdraw it. Existing redemptions keep their terms."""
        with database().transaction() as session:
            return _reward_out(session, catalogue.update_reward(session, reward_id, changes))


def _authorise_partner(partner_id: str, hide: str | None = None) -> None:
    if current_principal().acts_for("partner", partner_id):
        return
    if hide:
        raise NotFound(hide)
    raise Forbidden(f"This credential does not act for partner {partner_id}.")
