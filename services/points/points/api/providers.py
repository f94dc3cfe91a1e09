"""Activity providers: the registry (admin), memberships (app, member) and the activities a provider sends."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rewards_shared.batches import BatchResultOut
from rewards_shared.events.schemas import ACTIVITY_KINDS
from rewards_shared.pagination import PageArgs, page_schema
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import current_principal, require

from .. import activities, services
from . import runtime

blp = Blueprint("providers", __name__, url_prefix="/v1/providers", description="Activity providers")
members_blp = Blueprint("memberships", __name__, url_prefix="/v1/members",
                        description="A member's cards and memberships at activity providers")


class NewProvider(Schema):
    provider_id = fields.String(required=True, validate=IDENTIFIER)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kinds = fields.List(fields.String(validate=validate.OneOf(ACTIVITY_KINDS)), required=True,
                        validate=validate.Length(min=1), metadata={"description": "The kinds it may attest"})


class ProviderOut(Schema):
    provider_id = fields.String()
    name = fields.String()
    kinds = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()


class ProviderList(Schema):
    items = fields.List(fields.Nested(ProviderOut))


class NewMembership(Schema):
    member_id = fields.String(required=True, validate=IDENTIFIER)
    membership_ref = fields.String(required=True, validate=validate.Length(min=1, max=128),
                                   metadata={"description": "Kept only as a keyed hash"})


class MembershipOut(Schema):
    provider_id = fields.String()
    member_id = fields.String()


class MemberMembershipOut(Schema):
    provider_id = fields.String()
    name = fields.String(metadata={"description": "The provider's name"})
    memberships = fields.Integer(metadata={"description": "How many cards or memberships are linked there"})
    linked_at = fields.DateTime(metadata={"description": "When the first was linked"})


class ActivityBatch(Schema):
    activities = fields.List(fields.Raw(), required=True, metadata={
        "description": f"At most {activities.MAX_ACTIVITIES_PER_BATCH}: {{activity_id, member_id | membership_ref, "
                       "kind, occurred_at, quantity (default 1), unit, void}}"})


class BatchResult(BatchResultOut):
    accepted = fields.Integer(metadata={"description": "New activities"})
    corrected = fields.Integer(metadata={"description": "Activities sent before whose content changed"})
    voided = fields.Integer(metadata={"description": "Activities taken back"})


@blp.route("")
class Providers(MethodView):
    @require("admin")
    @blp.arguments(NewProvider)
    @blp.response(201, ProviderOut)
    @blp.alt_response(200, schema=ProviderOut, description="The provider is registered already, as given")
    def post(self, body):
        """Register an activity provider and the kinds of activity it may attest."""
        provider, created = services.register_provider(runtime(), **body)
        return provider, 201 if created else 200

    @require("admin")
    @blp.response(200, ProviderList)
    def get(self):
        """Every registered provider."""
        return {"items": services.list_providers(runtime())}


@blp.route("/<provider_id>/memberships")
class Memberships(MethodView):
    @require("app", "member")
    @blp.arguments(NewMembership)
    @blp.response(201, MembershipOut)
    @blp.alt_response(200, schema=MembershipOut, description="Linked already")
    def post(self, body, provider_id):
        """Link the member's card or membership at the provider, so its activities name them."""
        created = services.link_membership(runtime(), current_principal(), provider_id=provider_id, **body)
        return {"provider_id": provider_id, "member_id": body["member_id"]}, 201 if created else 200


@blp.route("/<provider_id>/activities")
class Activities(MethodView):
    @require("provider")
    @blp.arguments(ActivityBatch)
    @blp.response(202, BatchResult)
    def post(self, body, provider_id):
        """Send a batch of activities; good rows go through, bad rows come back by index and field."""
        return services.push_activities(runtime(), current_principal(), provider_id, body["activities"])


@members_blp.route("/<member_id>/memberships")
class MemberMemberships(MethodView):
    @require("app", "member", "support")
    @members_blp.arguments(PageArgs, location="query")
    @members_blp.response(200, page_schema(MemberMembershipOut))
    def get(self, args, member_id):
        """The providers where the member has linked a card or membership (the references are never shown)."""
        return services.member_memberships(runtime(), current_principal(), member_id, **args)


@members_blp.route("/<member_id>/memberships/<provider_id>")
class MemberMembership(MethodView):
    @require("app", "member")
    @members_blp.response(204)
    def delete(self, member_id, provider_id):
        """Unlink the member's cards or memberships at the provider; its rows naming them name no one from then on."""
        services.unlink_memberships(runtime(), current_principal(), member_id=member_id, provider_id=provider_id)
