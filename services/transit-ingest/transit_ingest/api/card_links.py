"""Card links: the app tells us which member a card belongs to."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import current_principal, require

from .. import services
from . import runtime

blp = Blueprint("card_links", __name__, url_prefix="/v1/card-links", description="Linking cards to members")

ID = IDENTIFIER


class NewLink(Schema):
    member_id = fields.String(required=True, validate=ID)
    operator_id = fields.String(required=True, validate=ID)
    card_ref = fields.String(required=True, validate=validate.Length(min=1, max=128),
                             metadata={"description": "Littlepay funding_source_id, TIDES token_id…"})


class LinkOut(Schema):
    member_id = fields.String()
    operator_id = fields.String()
    card_hint = fields.String(metadata={"description": "Last characters of the card reference"})
    linked_at = fields.DateTime()
    unlinked_at = fields.DateTime(allow_none=True)


class JourneyOut(Schema):
    journey_id = fields.String()
    operator_id = fields.String()
    kind = fields.String(metadata={"description": "paired | single | incomplete"})
    status = fields.String()
    mode = fields.String()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    route_id = fields.String(allow_none=True)
    origin_stop_id = fields.String(allow_none=True)
    destination_stop_id = fields.String(allow_none=True)
    distance_km = fields.Float(allow_none=True)
    distance_source = fields.String(allow_none=True)
    revision = fields.Integer()
    card_hint = fields.String(allow_none=True, metadata={"description": "Last characters of the card it was made on"})


@blp.route("")
class CardLinks(MethodView):
    @require("app", "member")
    @blp.arguments(NewLink)
    @blp.response(201, LinkOut)
    @blp.alt_response(200, schema=LinkOut, description="The card is linked already")
    def post(self, body):
        """Link a card to a member (200 when it already is); journeys from the 14 days before count."""
        link, created = services.link_card(runtime(), current_principal(), **body)
        # 200 for a link that already exists, as POST /v1/members does: the app may safely send it again.
        return link, 201 if created else 200


@blp.route("/<operator_id>/<card_ref>")
class CardLink(MethodView):
    @require("app", "member")
    @blp.response(204)
    def delete(self, operator_id, card_ref):
        """Unlink a card; its later taps earn nothing. A member's credential unlinks only its own cards."""
        services.unlink_card(runtime(), current_principal(), operator_id=operator_id, card_ref=card_ref)


members_blp = Blueprint("member_card_links", __name__, url_prefix="/v1/members", description="A member's cards")


@members_blp.route("/<member_id>/card-links")
class MemberCardLinks(MethodView):
    @require("app", "member", "support")
    @members_blp.arguments(PageArgs, location="query")
    @members_blp.response(200, page_schema(LinkOut))
    def get(self, args, member_id):
        """The member's cards, linked now or before (only the last characters of each card are kept)."""
        return services.card_links(runtime(), current_principal(), member_id, **args)


@members_blp.route("/<member_id>/journeys")
class MemberJourneys(MethodView):
    @require("app", "member", "support")
    @members_blp.arguments(PageArgs, location="query")
    @members_blp.response(200, page_schema(JourneyOut))
    def get(self, args, member_id):
        """The member's journeys, newest first, with the hint of the card each was made on."""
        return services.member_journeys(runtime(), current_principal(), member_id, **args)
