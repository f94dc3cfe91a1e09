"""The operator registry (admin), and GTFS stops for distances."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.events.schemas import MODES
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import current_principal, require

from .. import operators, services
from . import runtime

blp = Blueprint("operators", __name__, url_prefix="/v1/operators", description="Operators and their stops")

ID = IDENTIFIER


class OperatorSettings(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    default_mode = fields.String(validate=validate.OneOf(MODES),
                                 metadata={"description": "Mode of taps whose file does not say (all TIDES taps)"})
    fare_model = fields.String(validate=validate.OneOf(operators.FARE_MODELS),
                               metadata={"description": "flat: a TIDES tap-on is a whole (single) journey"})
    participant_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=128),
                                   metadata={"description": "Littlepay participant_id, when not the operator id"})
    card_ref_field = fields.String(validate=validate.OneOf(operators.CARD_REF_FIELDS),
                                   metadata={"description": "Littlepay column the app links cards by"})
    timezone = fields.String(validate=validate.Length(min=1, max=64),
                             metadata={"description": "For timestamps without an offset (TIDES)"})
    pairing_timeout_minutes = fields.Integer(validate=validate.Range(min=5, max=24 * 60))
    active = fields.Boolean()


class NewOperator(OperatorSettings):
    operator_id = fields.String(required=True, validate=ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class OperatorOut(Schema):
    operator_id = fields.String(attribute="id")
    name = fields.String()
    default_mode = fields.String()
    fare_model = fields.String()
    participant_id = fields.String(allow_none=True)
    card_ref_field = fields.String()
    timezone = fields.String()
    pairing_timeout_minutes = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OperatorList(Schema):
    items = fields.List(fields.Nested(OperatorOut))


class StopErrorOut(Schema):
    line = fields.Integer()
    field = fields.String()
    message = fields.String()


class StopsOut(Schema):
    stops = fields.Integer(metadata={"description": "Stops added or updated"})
    skipped = fields.Integer(metadata={"description": "Generic nodes and boarding areas without a position"})
    rejected = fields.Integer()
    errors = fields.List(fields.Nested(StopErrorOut))


@blp.route("")
class Operators(MethodView):
    @require("admin")
    @blp.arguments(NewOperator)
    @blp.response(201, OperatorOut)
    def post(self, body):
        """Register an operator; only registered operators can send taps."""
        return services.register_operator(runtime(), **body)

    @require("admin")
    @blp.response(200, OperatorList)
    def get(self):
        """Every registered operator."""
        return {"items": services.list_operators(runtime())}


@blp.route("/<operator_id>")
class OneOperator(MethodView):
    @require("admin", "operator")
    @blp.response(200, OperatorOut)
    def get(self, operator_id):
        """An operator's registration (admin, or the operator itself)."""
        return services.get_operator(runtime(), current_principal(), operator_id)

    @require("admin")
    @blp.arguments(OperatorSettings)
    @blp.response(200, OperatorOut)
    def patch(self, body, operator_id):
        """Change how an operator's data is read, or suspend it (`active: false`)."""
        return services.update_operator(runtime(), operator_id, **body)


@blp.route("/<operator_id>/stops")
class Stops(MethodView):
    @require("admin")
    @blp.response(200, StopsOut)
    @blp.doc(requestBody={"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}})
    def put(self, operator_id):
        """Load the operator's GTFS stops.txt (the raw file as the body); stops are added or updated."""
        loaded = services.load_stops(runtime(), operator_id, request.stream)
        return {"stops": loaded.stops, "skipped": loaded.skipped, "rejected": loaded.rejected,
                "errors": [error.__dict__ for error in loaded.errors[:100]]}
