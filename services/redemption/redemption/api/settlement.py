"""Settlement statements per partner and period, as JSON or CSV."""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.web import CSV, CSV_BODY, current_principal, require

from .. import services
from . import runtime

blp = Blueprint("settlement", __name__, url_prefix="/v1/partners", description="What the council owes partners")


class StatementArgs(Schema):
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "First day (Europe/London)"})
    to = fields.Date(required=True, metadata={"description": "Last day, included"})
    format = fields.String(load_default=None, validate=validate.OneOf(("json", "csv")))


class LineOut(Schema):
    reward_id = fields.String()
    reward_title = fields.String()
    funded_by = fields.String()
    unit_pence = fields.Integer()
    redeemed = fields.Integer()
    owed_pence = fields.Integer()


class StatementOut(Schema):
    partner_id = fields.String()
    from_ = fields.String(data_key="from")
    to = fields.String()
    currency = fields.String()
    redeemed = fields.Integer()
    owed_pence = fields.Integer()
    lines = fields.List(fields.Nested(LineOut))


def _wants_csv(args: dict) -> bool:
    if args["format"]:
        return args["format"] == "csv"
    return request.accept_mimetypes.best_match(["application/json", CSV]) == CSV


@blp.route("/<partner_id>/settlement")
class Settlement(MethodView):
    @require("finance", "partner")
    @blp.arguments(StatementArgs, location="query")
    @blp.response(200, StatementOut)
    @blp.alt_response(200, success=True, content_type=CSV, schema=CSV_BODY,
                      description="The statement, as JSON or (with ?format=csv or Accept: text/csv) as CSV")
    def get(self, args, partner_id):
        """Vouchers redeemed per reward in the period and what the council owes (JSON, or CSV with
        ?format=csv or Accept: text/csv). Staff see every partner; a partner sees its own."""
        found = services.settlement_statement(runtime(), current_principal(), partner_id, args["from_"], args["to"])
        if _wants_csv(args):
            filename = f"settlement-{partner_id}-{found.period_from}-{found.period_to}.csv"
            return Response(found.to_csv(), mimetype=CSV,
                            headers={"Content-Disposition": f'attachment; filename="{filename}"'})
        out = found.to_dict()
        out["from_"] = out.pop("from")
        return out
