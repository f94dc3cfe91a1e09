"""Operators push taps as JSON batches."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from rewards_shared.web import require

from .. import ingest, operators
from .access import authorize_operator

blp = Blueprint("taps", __name__, url_prefix="/v1/operators", description="Operator tap feeds")


class TapBatch(Schema):
    taps = fields.List(fields.Raw(), required=True,
                       metadata={"description": f"At most {ingest.MAX_TAPS_PER_BATCH} taps; see TapRow"})


class RowErrorOut(Schema):
    index = fields.Integer()
    field = fields.String()
    message = fields.String()


class BatchResult(Schema):
    accepted = fields.Integer(metadata={"description": "New taps"})
    replaced = fields.Integer(metadata={"description": "Taps sent before whose content changed"})
    duplicates = fields.Integer()
    rejected = fields.Integer()
    errors = fields.List(fields.Nested(RowErrorOut))


@blp.route("/<operator_id>/taps")
class Taps(MethodView):
    @require("operator")
    @blp.arguments(TapBatch)
    @blp.response(202, BatchResult)
    def post(self, body, operator_id):
        """Push a batch of taps; good rows go through, bad rows come back by index and field."""
        authorize_operator(operator_id)
        rows = body["taps"]
        if len(rows) > ingest.MAX_TAPS_PER_BATCH:
            abort(413, message=f"At most {ingest.MAX_TAPS_PER_BATCH} taps per request; split the batch.",
                  errors={"taps": [f"{len(rows)} taps sent"]})
        valid, errors = ingest.validate_rows(rows)
        with current_app.extensions["database"].transaction() as session:
            operators.active(session, operator_id)
            result = ingest.ingest(session, operator_id, valid, current_app.extensions["card_hasher"])
        response = {"accepted": result.accepted, "duplicates": result.duplicates,
                    "rejected": len({e.index for e in errors}), "errors": [e.__dict__ for e in errors]}
        if result.replaced:
            response["replaced"] = result.replaced
        return response
