"""How to reach a member, and what they want to hear."""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from rewards_shared.web import current_principal, require

from .. import services
from ..catalogue import PREFERENCE_KINDS
from . import runtime

blp = Blueprint("members", __name__, url_prefix="/v1/members", description="Members' contacts and preferences")

E164 = validate.Regexp(r"^\+[1-9][0-9]{6,14}$", error="Use international format, e.g. +447700900123.")
CLOCK = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="Use a 24-hour time, e.g. 21:30.")
LOCALE = validate.Regexp(r"^[a-z]{2,3}(-[A-Z]{2})?$", error="Use a language tag such as en-GB or cy.")


class Strict(Schema):
    class Meta:
        unknown = RAISE


class Contacts(Strict):
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True, validate=E164)
    push_tokens = fields.List(fields.String(validate=validate.Length(min=1, max=4096)), load_default=list,
                              validate=validate.Length(max=10),
                              metadata={"description": "FCM registration tokens, one per device"})


class ContactsOut(Contacts):
    member_id = fields.String()
    updated_at = fields.DateTime(allow_none=True)


class QuietHours(Strict):
    start = fields.String(required=True, validate=CLOCK)
    end = fields.String(required=True, validate=CLOCK)

    @validates_schema
    def differ(self, data, **kwargs):
        if data["start"] == data["end"]:
            raise ValidationError("Quiet hours must start and end at different times.", "end")


class Digest(Strict):
    enabled = fields.Boolean(load_default=True)
    below_points = fields.Integer(load_default=20, validate=validate.Range(min=1, max=10000),
                                  metadata={"description": "Earnings smaller than this wait for the daily digest"})
    at = fields.String(load_default="18:00", validate=CLOCK, metadata={"description": "Local time of the digest"})


class Switches(Strict):
    email = fields.Boolean()
    push = fields.Boolean()
    sms = fields.Boolean()


class Preferences(Strict):
    locale = fields.String(validate=LOCALE)
    time_zone = fields.String(metadata={"description": "IANA time zone, e.g. Europe/London"})
    quiet_hours = fields.Nested(QuietHours, allow_none=True, metadata={"description": "null for none"})
    digest = fields.Nested(Digest, allow_none=True)
    channels = fields.Dict(keys=fields.String(validate=validate.OneOf(PREFERENCE_KINDS)),
                           values=fields.Nested(Switches),
                           metadata={"description": "Per kind of message, which channels are on"})

    @validates("time_zone")
    def known_zone(self, value, **kwargs):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError("Not a known IANA time zone.") from None


class PreferencesOut(Preferences):
    member_id = fields.String()


@blp.route("/<member_id>/contacts")
class MemberContacts(MethodView):
    @require("app", "member", "support")
    @blp.response(200, ContactsOut)
    def get(self, member_id):
        """The member's email address, phone number and push tokens."""
        return services.contacts_of(runtime(), current_principal(), member_id)

    @require("app", "member")
    @blp.arguments(Contacts)
    @blp.response(200, ContactsOut)
    def put(self, body, member_id):
        """Replace the member's contact details (omitted ones are removed)."""
        return services.set_contacts(runtime(), current_principal(), member_id, **body)


@blp.route("/<member_id>/preferences")
class MemberPreferences(MethodView):
    @require("app", "member", "support")
    @blp.response(200, PreferencesOut)
    def get(self, member_id):
        """The member's preferences, with defaults for anything they have not chosen."""
        return {"member_id": member_id, **services.preferences_of(runtime(), current_principal(), member_id)}

    @require("app", "member")
    @blp.arguments(Preferences)
    @blp.response(200, PreferencesOut)
    def put(self, body, member_id):
        """Replace the member's preferences; anything omitted takes the default."""
        return {"member_id": member_id, **services.set_preferences(runtime(), current_principal(), member_id, body)}
