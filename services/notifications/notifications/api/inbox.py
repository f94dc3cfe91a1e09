"""A member's inbox: list, unread count, mark read."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.web import current_principal, require

from .. import services
from . import runtime

blp = Blueprint("inbox", __name__, url_prefix="/v1/members", description="Members' notifications")


class InboxArgs(PageArgs):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only notifications not yet read"})


class NotificationOut(Schema):
    id = fields.String()
    type = fields.String()
    title = fields.String()
    body = fields.String()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class UnreadOut(Schema):
    unread = fields.Integer()


class MarkedOut(Schema):
    marked = fields.Integer()


@blp.route("/<member_id>/notifications")
class Notifications(MethodView):
    @require("app", "member", "support")
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, page_schema(NotificationOut))
    def get(self, args, member_id):
        """The member's notifications, newest first."""
        return services.inbox_page(runtime(), current_principal(), member_id, limit=args["limit"],
                                   cursor=args["cursor"], unread_only=args["unread"])


@blp.route("/<member_id>/notifications/unread-count")
class UnreadCount(MethodView):
    @require("app", "member", "support")
    @blp.response(200, UnreadOut)
    def get(self, member_id):
        """How many notifications the member has not read."""
        return {"unread": services.unread_count(runtime(), current_principal(), member_id)}


@blp.route("/<member_id>/notifications/<notification_id>/read")
class MarkRead(MethodView):
    @require("app", "member")
    @blp.response(200, NotificationOut)
    def post(self, member_id, notification_id):
        """Mark one notification read (again is harmless: the first time stays)."""
        return services.mark_read(runtime(), current_principal(), member_id, notification_id)


@blp.route("/<member_id>/notifications/read")
class MarkAllRead(MethodView):
    @require("app", "member")
    @blp.response(200, MarkedOut)
    def post(self, member_id):
        """Mark every notification read; returns how many were unread."""
        return {"marked": services.mark_all_read(runtime(), current_principal(), member_id)}
