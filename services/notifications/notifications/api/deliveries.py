"""Deliveries: what was sent on which channel, what is waiting and what failed."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.web import current_principal, require

from .. import services
from . import runtime

blp = Blueprint("deliveries", __name__, url_prefix="/v1", description="Messages sent or waiting, by channel")

STATUSES = ("held", "pending", "sent", "failed", "cancelled", "digested")


class DeliveryArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class DeliveryOut(Schema):
    """No address, phone number or push token: only what was sent how, and when."""
    id = fields.String()
    member_id = fields.String()
    kind = fields.String()
    channel = fields.String()
    status = fields.String(metadata={"description": "held (for the digest) → digested; pending → sent, failed "
                                                    "(after the last attempt) or cancelled (no longer reachable)"})
    attempts = fields.Integer()
    not_before = fields.DateTime(metadata={"description": "Not sent before: the end of quiet hours, or the digest"})
    next_attempt_at = fields.DateTime()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


@blp.route("/members/<member_id>/deliveries")
class MemberDeliveries(MethodView):
    @require("app", "member", "support")
    @blp.arguments(DeliveryArgs, location="query")
    @blp.response(200, page_schema(DeliveryOut))
    def get(self, args, member_id):
        """One member's deliveries, newest first."""
        return services.delivery_page(runtime(), current_principal(), member_id=member_id, **args)


@blp.route("/deliveries")
class AllDeliveries(MethodView):
    @require("support")
    @blp.arguments(DeliveryArgs, location="query")
    @blp.response(200, page_schema(DeliveryOut))
    def get(self, args):
        """Every delivery, newest first; `?status=failed` is what operators watch."""
        return services.delivery_page(runtime(), current_principal(), **args)
