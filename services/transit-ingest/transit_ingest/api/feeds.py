"""Operator files: upload (streamed), status with progress, and the rejection report."""
from __future__ import annotations

import uuid

from flask import Response, current_app, request, stream_with_context, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.pagination import PageArgs, decode_cursor, keyset_page
from rewards_shared.web import current_principal, require

from .. import feeds
from ..formats import FORMATS
from .access import authorize_operator

blp = Blueprint("feeds", __name__, url_prefix="/v1/operators", description="Operator files")

DEFAULT_MAX_FEED_BYTES = 4 * 1024**3


class FeedArgs(Schema):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS),
                           metadata={"description": "littlepay-v3 (v1 files are recognised too) or tides"})
    filename = fields.String(load_default=None, validate=validate.Length(max=255))


class FeedCreated(Schema):
    feed_id = fields.UUID()
    status = fields.String()
    size_bytes = fields.Integer()
    sha256 = fields.String()


class FeedErrorOut(Schema):
    line = fields.Integer()
    field = fields.String()
    message = fields.String()


class FeedOut(Schema):
    feed_id = fields.UUID(attribute="id")
    operator_id = fields.String()
    format = fields.String()
    detected_format = fields.String(allow_none=True)
    filename = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "queued, processing, done or failed"})
    reason = fields.String(allow_none=True, metadata={"description": "Why the feed failed"})
    size_bytes = fields.Integer()
    sha256 = fields.String()
    bytes_read = fields.Integer()
    progress = fields.Float(metadata={"description": "Share of the file read, 0 to 1"})
    rows = fields.Integer()
    accepted = fields.Integer(metadata={"description": "New taps"})
    replaced = fields.Integer(metadata={"description": "Later versions of taps already received"})
    duplicates = fields.Integer()
    ignored = fields.Integer(metadata={"description": "Valid rows that are not taps (purchases, cash)"})
    rejected = fields.Integer()
    errors = fields.List(fields.Nested(FeedErrorOut), metadata={"description": "The first 100 rejections"})
    report_url = fields.String(metadata={"description": "Every rejection as CSV"})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class FeedPage(Schema):
    items = fields.List(fields.Nested(FeedOut(exclude=("errors",))))
    next_cursor = fields.String(allow_none=True)


def _database():
    return current_app.extensions["database"]


def _view(feed, errors=()) -> dict:
    return {**{c.key: getattr(feed, c.key) for c in feed.__table__.columns}, "operator_id": feed.operator_id,
            "progress": round(feed.bytes_read / feed.size_bytes, 4) if feed.size_bytes else 1.0,
            "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in errors],
            "report_url": url_for("feeds.RejectionReport", operator_id=feed.operator_id, feed_id=feed.id)}


@blp.route("/<operator_id>/feeds")
class Feeds(MethodView):
    @require("operator")
    @blp.arguments(FeedArgs, location="query")
    @blp.response(202, FeedCreated)
    @blp.doc(requestBody={"required": True, "content": {"application/octet-stream": {"schema": {
        "type": "string", "format": "binary"}}}})
    def post(self, args, operator_id):
        """Upload an operator file as the raw body; it is processed in the background."""
        authorize_operator(operator_id)
        request.max_content_length = current_app.extensions["settings"].get_int(
            "FEED_MAX_BYTES", DEFAULT_MAX_FEED_BYTES)
        with _database().transaction() as session:
            feed = feeds.receive(session, operator_id, args["format"], request.stream,
                                 filename=args["filename"], created_by=current_principal().role)
        return {"feed_id": feed.id, "status": feed.status, "size_bytes": feed.size_bytes, "sha256": feed.sha256}

    @require("operator")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, FeedPage)
    def get(self, args, operator_id):
        """The operator's feeds, newest first."""
        authorize_operator(operator_id)
        after = decode_cursor(args["cursor"], 2)
        with _database().transaction() as session:
            found = feeds.listing(session, operator_id, limit=args["limit"] + 1, after=after)
        page, cursor = keyset_page(found, args["limit"], lambda feed: (feed.created_at.isoformat(), str(feed.id)))
        return {"items": [_view(feed) for feed in page], "next_cursor": cursor}


@blp.route("/<operator_id>/feeds/<uuid:feed_id>")
class OneFeed(MethodView):
    @require("operator")
    @blp.response(200, FeedOut)
    def get(self, operator_id, feed_id: uuid.UUID):
        """A feed's status, progress, counts and first rejections."""
        authorize_operator(operator_id)
        with _database().transaction() as session:
            feed = feeds.get(session, operator_id, feed_id)
            return _view(feed, feeds.first_errors(session, feed.id))


@blp.route("/<operator_id>/feeds/<uuid:feed_id>/rejections.csv")
class RejectionReport(MethodView):
    @require("operator")
    @blp.response(200, content_type="text/csv")
    def get(self, operator_id, feed_id: uuid.UUID):
        """Every rejected row of the feed, by line and field, as CSV."""
        authorize_operator(operator_id)
        with _database().transaction() as session:
            feeds.get(session, operator_id, feed_id)
        body = stream_with_context(feeds.rejection_report(_database(), feed_id))
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="feed-{feed_id}-rejections.csv"'})
