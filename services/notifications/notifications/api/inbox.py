"""A member's inbox."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rewards_shared.pagination import PageArgs, decode_cursor, encode_cursor
from rewards_shared.web import require

from .. import inbox

blp = Blueprint("inbox", __name__, url_prefix="/v1/members", description="Members' notifications")


class ItemOut(Schema):
    id = fields.String()
    type = fields.String()
    title = fields.String()
    body = fields.String()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class InboxPage(Schema):
    items = fields.List(fields.Nested(ItemOut))
    next_cursor = fields.String(allow_none=True)


@blp.route("/<member_id>/notifications")
class Notifications(MethodView):
    @require("app")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, InboxPage)
    def get(self, args, member_id):
        """The member's notifications, newest first."""
        cursor = decode_cursor(args["cursor"], 1)
        with current_app.extensions["database"].transaction() as session:
            rows = inbox.page(session, member_id, limit=args["limit"] + 1,
                              before_seq=int(cursor[0]) if cursor else None)
        items, more = rows[:args["limit"]], len(rows) > args["limit"]
        return {"items": items, "next_cursor": encode_cursor(items[-1].seq) if more else None}
