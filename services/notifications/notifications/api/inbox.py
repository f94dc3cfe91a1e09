"""A member's inbox: list, unread count, mark read."""
from __future__ import annotations

import uuid

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rewards_shared.errors import NotFound
from rewards_shared.pagination import PageArgs
from rewards_shared.web import require

from .. import inbox
from .paging import before_seq, page_of

blp = Blueprint("inbox", __name__, url_prefix="/v1/members", description="Members' notifications")


class InboxArgs(PageArgs):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only notifications not yet read"})


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


class UnreadOut(Schema):
    unread = fields.Integer()


class MarkedOut(Schema):
    marked = fields.Integer()


def _db():
    return current_app.extensions["database"]


def _item_id(member_id: str, notification_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(notification_id)
    except ValueError:
        raise NotFound(f"Member {member_id} has no notification {notification_id}.") from None


@blp.route("/<member_id>/notifications")
class Notifications(MethodView):
    @require("app")
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, InboxPage)
    def get(self, args, member_id):
        """The member's notifications, newest first."""
        with _db().transaction() as session:
            rows = inbox.page(session, member_id, limit=args["limit"] + 1, unread_only=args["unread"],
                              before_seq=before_seq(args))
        return page_of(rows, args["limit"])


@blp.route("/<member_id>/notifications/unread-count")
class UnreadCount(MethodView):
    @require("app")
    @blp.response(200, UnreadOut)
    def get(self, member_id):
        """How many notifications the member has not read."""
        with _db().transaction() as session:
            return {"unread": inbox.unread_count(session, member_id)}


@blp.route("/<member_id>/notifications/<notification_id>/read")
class MarkRead(MethodView):
    @require("app")
    @blp.response(200, ItemOut)
    def post(self, member_id, notification_id):
        """Mark one notification read (again is harmless: the first time stays)."""
        with _db().transaction() as session:
            return inbox.mark_read(session, member_id, _item_id(member_id, notification_id))


@blp.route("/<member_id>/notifications/read")
class MarkAllRead(MethodView):
    @require("app")
    @blp.response(200, MarkedOut)
    def post(self, member_id):
        """Mark every notification read; returns how many were unread."""
        with _db().transaction() as session:
            return {"marked": inbox.mark_all_read(session, member_id)}
