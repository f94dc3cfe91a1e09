"""Earning rules, as data (admin)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.web import current_principal, require

from .. import rules, services
from . import runtime

blp = Blueprint("rules", __name__, url_prefix="/v1/rules", description="Earning rules (versioned, effective-dated)")


class NewRuleVersion(Schema):
    rule_id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}$",
                                                                     error="Use lower-case letters, digits and -."))
    kind = fields.String(required=True, validate=validate.OneOf(tuple(rules.KINDS)))
    effective_from = fields.AwareDateTime(load_default=None, metadata={"description": "Default: now"})
    effective_to = fields.AwareDateTime(load_default=None)
    definition = fields.Dict(required=True, metadata={"description": "Shape depends on kind; see the README"})


class RuleOut(Schema):
    rule_id = fields.String()
    version = fields.Integer()
    kind = fields.String()
    effective_from = fields.DateTime()
    effective_to = fields.DateTime(allow_none=True)
    definition = fields.Dict()
    created_by = fields.String()
    created_at = fields.DateTime()


class RuleList(Schema):
    items = fields.List(fields.Nested(RuleOut))


class RuleQuery(Schema):
    at = fields.AwareDateTime(load_default=None, metadata={"description": "Only the versions in force then"})


@blp.route("")
class Rules(MethodView):
    @require("admin")
    @blp.arguments(RuleQuery, location="query")
    @blp.response(200, RuleList)
    def get(self, query):
        """Every version of every rule, or only those in force at `at`."""
        return {"items": services.list_rules(runtime(), at=query["at"])}

    @require("admin")
    @blp.arguments(NewRuleVersion)
    @blp.response(201, RuleOut)
    def post(self, body):
        """Add a rule, or a new version of one; a bad definition is refused field by field and nothing is saved."""
        return services.add_rule_version(runtime(), current_principal(), **body)
