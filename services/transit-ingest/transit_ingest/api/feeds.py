"""Operator files: upload (streamed), status with progress, and the rejection report."""
from __future__ import annotations

import uuid

from flask import Response, request, stream_with_context, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.web import current_principal, require

from .. import services
from ..formats import FORMATS
from . import runtime

blp = Blueprint("feeds", __name__, url_prefix="/v1/operators", description="Operator files")


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
    """A feed as listed; `FeedDetailOut` adds its first rejections."""
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
    report_url = fields.String(metadata={"description": "Every rejection as CSV"})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class FeedDetailOut(FeedOut):
    errors = fields.List(fields.Nested(FeedErrorOut), metadata={"description": "The first 100 rejections"})


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
        request.max_content_length = runtime().max_feed_bytes
        feed = services.receive_feed(runtime(), current_principal(), operator_id, args["format"], request.stream,
                                     filename=args["filename"], expected_bytes=request.content_length)
        return {"feed_id": feed.id, "status": feed.status, "size_bytes": feed.size_bytes, "sha256": feed.sha256}

    @require("operator")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(FeedOut))
    def get(self, args, operator_id):
        """The operator's feeds, newest first."""
        page = services.list_feeds(runtime(), current_principal(), operator_id, **args)
        return {**page, "items": [_view(feed) for feed in page["items"]]}


@blp.route("/<operator_id>/feeds/<uuid:feed_id>")
class OneFeed(MethodView):
    @require("operator")
    @blp.response(200, FeedDetailOut)
    def get(self, operator_id, feed_id: uuid.UUID):
        """A feed's status, progress, counts and first rejections."""
        feed, errors = services.get_feed(runtime(), current_principal(), operator_id, feed_id)
        return _view(feed, errors)


@blp.route("/<operator_id>/feeds/<uuid:feed_id>/rejections.csv")
class RejectionReport(MethodView):
    @require("operator")
    @blp.response(200, content_type="text/csv")
    def get(self, operator_id, feed_id: uuid.UUID):
        """Every rejected row of the feed, by line and field, as CSV."""
        report = services.rejection_report(runtime(), current_principal(), operator_id, feed_id)
        body = stream_with_context(report)
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="feed-{feed_id}-rejections.csv"'})
