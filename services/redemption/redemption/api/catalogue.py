"""Partners and the rewards catalogue: managed by council staff, browsed by the app."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.web import current_principal, require

from .. import catalogue, services
from ..models import FUNDERS
from . import ID, runtime

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
    category = fields.String(allow_none=True, validate=validate.OneOf(catalogue.CATEGORIES))


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
    category = fields.String(allow_none=True, metadata={"description": " | ".join(catalogue.CATEGORIES)})
    funded_by = fields.String(metadata={"description": "Shown to staff and the partner only"})
    settlement_pence = fields.Integer(metadata={"description": "Shown to staff and the partner only"})
    active = fields.Boolean()


class RewardQuery(PageArgs):
    partner_id = fields.String(validate=ID)
    available = fields.Boolean(metadata={"description": "Only what a member can redeem now (the app's default)"})
    category = fields.String(validate=validate.OneOf(catalogue.CATEGORIES))
    q = fields.String(validate=validate.Length(min=1, max=100),
                      metadata={"description": "Words looked for in titles and descriptions, whatever the case"})


class NewLocation(Schema):
    location_id = fields.String(required=True, validate=ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    address = fields.String(load_default=None, validate=validate.Length(max=500))
    latitude = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(required=True, validate=validate.Range(min=-180, max=180))


class LocationOut(Schema):
    partner_id = fields.String()
    location_id = fields.String()
    name = fields.String()
    address = fields.String(allow_none=True)
    latitude = fields.Float()
    longitude = fields.Float()
    created_at = fields.DateTime()


@blp.route("/partners")
class Partners(MethodView):
    @require("catalogue")
    @blp.arguments(NewPartner)
    @blp.response(201, PartnerOut)
    @blp.alt_response(200, schema=PartnerOut, description="The same partner exists already")
    def post(self, body):
        """Register a partner (200 when the same partner exists already)."""
        partner, created = services.add_partner(runtime(), **body)
        return partner, 201 if created else 200  # 200 for an identical repeat, so seeding scripts can re-run

    @require("catalogue")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(PartnerOut))
    def get(self, args):
        """Every partner, by id."""
        return services.list_partners(runtime(), **args)


@blp.route("/partners/<partner_id>")
class PartnerItem(MethodView):
    @require("catalogue", "partner")
    @blp.response(200, PartnerOut)
    def get(self, partner_id):
        """One partner (catalogue staff, or the partner itself)."""
        return services.get_partner(runtime(), current_principal(), partner_id)

    @require("catalogue")
    @blp.arguments(PartnerFields)
    @blp.response(200, PartnerOut)
    def patch(self, changes, partner_id):
        """Rename, change the contact, or withdraw a partner (its rewards stop being redeemable)."""
        return services.update_partner(runtime(), partner_id, changes)


@blp.route("/partners/<partner_id>/locations")
class PartnerLocations(MethodView):
    @require("catalogue")
    @blp.arguments(NewLocation)
    @blp.response(201, LocationOut)
    def post(self, body, partner_id):
        """Add a place where the partner's vouchers can be used."""
        return services.add_location(runtime(), partner_id, **body)

    @require("app", "member", "catalogue", "partner")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(LocationOut))
    def get(self, args, partner_id):
        """Where the partner's vouchers can be used, with positions for a map."""
        return services.list_locations(runtime(), current_principal(), partner_id, **args)


@blp.route("/partners/<partner_id>/locations/<location_id>")
class PartnerLocationItem(MethodView):
    @require("catalogue")
    @blp.response(204)
    def delete(self, partner_id, location_id):
        """Remove a location."""
        services.remove_location(runtime(), partner_id, location_id)


@blp.route("/rewards")
class Rewards(MethodView):
    @require("catalogue")
    @blp.arguments(NewReward)
    @blp.response(201, RewardOut)
    @blp.alt_response(200, schema=RewardOut, description="The same reward exists already")
    def post(self, body):
        """Add a reward to the catalogue (200 when the same reward exists already)."""
        reward, created = services.add_reward(runtime(), current_principal(), **body)
        return reward, 201 if created else 200  # 200 for an identical repeat, so seeding scripts can re-run

    @require("app", "member", "partner", "catalogue")
    @blp.arguments(RewardQuery, location="query")
    @blp.response(200, page_schema(RewardOut))
    def get(self, args):
        """The catalogue. The app and members see what can be redeemed now; a partner sees its own rewards."""
        return services.list_rewards(runtime(), current_principal(), **args)


@blp.route("/rewards/<reward_id>")
class RewardItem(MethodView):
    @require("app", "member", "partner", "catalogue")
    @blp.response(200, RewardOut)
    def get(self, reward_id):
        """One reward."""
        return services.get_reward(runtime(), current_principal(), reward_id)

    @require("catalogue")
    @blp.arguments(RewardFields)
    @blp.response(200, RewardOut)
    def patch(self, changes, reward_id):
        """Change a reward's terms, restock it, or withdraw it. Existing redemptions keep their terms."""
        return services.update_reward(runtime(), current_principal(), reward_id, changes)
