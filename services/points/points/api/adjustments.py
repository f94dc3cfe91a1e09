"""Admin adjustments and donations to community groups: audited, idempotent movements of points."""
from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.idempotency import idempotent
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import current_principal, require

from .. import ledger

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


class NewDonation(Schema):
    member_id = fields.String(required=True, validate=ID)
    group_id = fields.String(required=True, validate=ID)
    points = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000))


def _db():
    return current_app.extensions["database"]


def _movement(session, posted, member_id: str, points: int) -> dict:
    return {"transfer_id": str(posted.transfer.id), "member_id": member_id, "points": points,
            "available": ledger.balance(session, member_id).available}


@blp.route("/adjustments")
class Adjustments(MethodView):
    @require("admin")
    @idempotent
    @blp.arguments(NewAdjustment)
    @blp.response(201, MovementOut)
    def post(self, body):
        """Credit (+) or debit (−) a member, with a reason; recorded with the acting credential."""
        with _db().transaction() as session:
            posted = ledger.adjust(session, member_id=body["member_id"], points=body["points"],
                                   reason=body["reason"], actor=current_principal().id, key=g.idempotency_key)
            return _movement(session, posted, body["member_id"], body["points"])


@blp.route("/community-groups")
class Groups(MethodView):
    @require("admin")
    @blp.arguments(NewGroup)
    @blp.response(201, GroupOut)
    def post(self, body):
        """Register a community group members can donate points to (200 if it exists)."""
        with _db().transaction() as session:
            group, created = ledger.add_group(session, body["group_id"], body["name"])
            out = {"group_id": group.group_id, "name": group.name,
                   "points_received": ledger.group_total(session, group.group_id)}
        return out, 201 if created else 200


@blp.route("/donations")
class Donations(MethodView):
    @require("app")
    @idempotent
    @blp.arguments(NewDonation)
    @blp.response(201, MovementOut)
    def post(self, body):
        """Donate a member's points to a community group."""
        with _db().transaction() as session:
            posted = ledger.donate(session, member_id=body["member_id"], group_id=body["group_id"],
                                   points=body["points"], key=g.idempotency_key, actor=current_principal().id)
            return _movement(session, posted, body["member_id"], -body["points"])
