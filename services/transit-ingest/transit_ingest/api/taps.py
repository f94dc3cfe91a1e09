"""Operators push taps as JSON batches."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rewards_shared.batches import BatchResultOut
from rewards_shared.web import current_principal, require

from .. import ingest, services
from . import runtime

blp = Blueprint("taps", __name__, url_prefix="/v1/operators", description="Operator tap feeds")


class TapBatch(Schema):
    taps = fields.List(fields.Raw(), required=True, metadata={"description": (
        f"At most {ingest.MAX_TAPS_PER_BATCH} taps, each an object with "
        f"{', '.join(name for name, *_ in ingest.TAP_FIELDS)}; each is checked on its own, and a bad one comes "
        "back in `errors` by index and field while the good ones are stored")})


class BatchResult(BatchResultOut):
    accepted = fields.Integer(metadata={"description": "New taps"})
    replaced = fields.Integer(metadata={"description": "Taps sent before whose content changed (when any were)"})


@blp.route("/<operator_id>/taps")
class Taps(MethodView):
    @require("operator")
    @blp.arguments(TapBatch)
    @blp.response(202, BatchResult)
    def post(self, body, operator_id):
        """Push a batch of taps; good rows go through, bad rows come back by index and field."""
        result = services.push_taps(runtime(), current_principal(), operator_id, body["taps"])
        return result if result.replaced else BatchResultOut().dump(result)
