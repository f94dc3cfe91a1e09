"""Admin adjustments and donations to community groups: audited, idempotent movements of points."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.idempotency import idempotent
from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import current_principal, require

from .. import services
from . import runtime

blp = Blueprint("movements", __name__, url_prefix="/v1", description="Adjustments, donations, community groups")

ID = IDENTIFIER


class NewAdjustment(Schema):
    member_id = fields.String(required=True, validate=ID)
    points = fields.Integer(required=True, validate=validate.Range(min=-1_000_000, max=1_000_000))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class MovementOut(Schema):
    transfer_id = fields.String()
    member_id = fields.String()
    points = fields.Integer()
    available = fields.Integer()


class NewGroup(Schema):
    group_id = fields.String(required=True, validate=ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class GroupOut(Schema):
    group_id = fields.String()
    name = fields.String()
    points_received = fields.Integer()
    donors = fields.Integer(metadata={"description": "Members who have given to it"})


class NewDonation(Schema):
    member_id = fields.String(required=True, validate=ID)
    group_id = fields.String(required=True, validate=ID)
    points = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000))


@blp.route("/adjustments")
class Adjustments(MethodView):
    @require("finance")
    @idempotent
    @blp.arguments(NewAdjustment)
    @blp.response(201, MovementOut)
    def post(self, body):
        """Credit (+) or debit (−) a member, with a reason; recorded with the acting credential."""
        return services.adjust(runtime(), current_principal(), key=g.idempotency_key, **body)


@blp.route("/community-groups")
class Groups(MethodView):
    @require("catalogue")
    @blp.arguments(NewGroup)
    @blp.response(201, GroupOut)
    @blp.alt_response(200, schema=GroupOut, description="The group exists already")
    def post(self, body):
        """Register a community group members can donate points to (200 if it exists)."""
        group, created = services.add_group(runtime(), **body)
        # Registering is idempotent on the group id: 201 the first time, 200 after.
        return group, 201 if created else 200

    @require("app", "member", "catalogue")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(GroupOut))
    def get(self, args):
        """Community groups by id, with the points members have given each."""
        return services.list_groups(runtime(), **args)


@blp.route("/community-groups/<group_id>")
class OneGroup(MethodView):
    @require("app", "member", "catalogue")
    @blp.response(200, GroupOut)
    def get(self, group_id):
        """One community group and its totals."""
        return services.get_group(runtime(), group_id)


@blp.route("/donations")
class Donations(MethodView):
    @require("app", "member")
    @idempotent
    @blp.arguments(NewDonation)
    @blp.response(201, MovementOut)
    def post(self, body):
        """Donate a member's points to a community group."""
        return services.donate(runtime(), current_principal(), key=g.idempotency_key, **body)
