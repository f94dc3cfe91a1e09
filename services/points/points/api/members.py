"""Members, balances and history."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from rewards_shared import outbox
from rewards_shared.events import Event
from rewards_shared.pagination import PageArgs, decode_cursor, keyset_page
from rewards_shared.validation import IDENTIFIER
from rewards_shared.web import require

from .. import ledger
from ..models import Member

blp = Blueprint("members", __name__, url_prefix="/v1/members", description="Members and their points")

MEMBER_ID = IDENTIFIER


class NewMember(Schema):
    member_id = fields.String(required=True, validate=MEMBER_ID)


class MemberOut(Schema):
    member_id = fields.String()
    registered_at = fields.DateTime()
    tier = fields.String()


class Expiring(Schema):
    points = fields.Integer()
    expires_at = fields.DateTime()


class BalanceOut(Schema):
    member_id = fields.String()
    available = fields.Integer(metadata={"description": "Spendable now"})
    pending = fields.Integer(metadata={"description": "Awaiting confirmation (e.g. volunteering)"})
    held = fields.Integer(metadata={"description": "Reserved for redemptions in progress"})
    lifetime_earned = fields.Integer()
    tier = fields.String()
    expiring = fields.List(fields.Nested(Expiring), metadata={"description": "Points expiring in the next 30 days"})


class TransactionOut(Schema):
    transfer_id = fields.String()
    points = fields.Integer(metadata={"description": "Into (+) or out of (−) the available balance"})
    code = fields.String()
    source_type = fields.String(allow_none=True)
    source_id = fields.String(allow_none=True)
    rule_id = fields.String(allow_none=True)
    rule_version = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    occurred_at = fields.DateTime(allow_none=True)
    details = fields.Dict(allow_none=True, metadata={"description": "Why: the rules and versions applied"})
    created_at = fields.DateTime()


class TransactionPage(Schema):
    items = fields.List(fields.Nested(TransactionOut))
    next_cursor = fields.String(allow_none=True)


def _db():
    return current_app.extensions["database"]


@blp.route("")
class Members(MethodView):
    @require("app")
    @blp.arguments(NewMember)
    @blp.response(201, MemberOut)
    def post(self, body):
        """Register a member (idempotent: 200 when already registered)."""
        with _db().transaction() as session:
            created = ledger.ensure_member(session, body["member_id"])
            member = session.get(Member, body["member_id"])
            if member.erased_at is not None:
                abort(410, message=f"Member {member.member_id} was erased; use a new member id.")
            if created:
                outbox.add(session, Event.create("member.registered", "points", member.member_id, {
                    "member_id": member.member_id, "registered_at": member.registered_at.isoformat()}))
        return (member, 201) if created else (member, 200)


@blp.route("/<member_id>")
class OneMember(MethodView):
    @require("app")
    @blp.response(204)
    def delete(self, member_id):
        """Erase a member: every service forgets what it holds about them (`member.erased`).

        The ledger keeps its transfers under the pseudonymous id, as any financial record must;
        points still available are withdrawn to the issuance account."""
        with _db().transaction() as session:
            if not ledger.erase_member(session, member_id):
                abort(404, message=f"No member {member_id}.")


@blp.route("/<member_id>/balance")
class MemberBalance(MethodView):
    @require("app")
    @blp.response(200, BalanceOut)
    def get(self, member_id):
        """The member's available, pending and held points."""
        with _db().reading() as connection:
            current = ledger.balance_view(connection, member_id)
        if current is None:
            abort(404, message=f"No member {member_id}.")
        return current


@blp.route("/<member_id>/transactions")
class MemberTransactions(MethodView):
    @require("app")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, TransactionPage)
    def get(self, args, member_id):
        """Ledger history, newest first."""
        cursor = decode_cursor(args["cursor"], 1)
        with _db().transaction() as session:
            if session.get(Member, member_id) is None:
                abort(404, message=f"No member {member_id}.")
            rows = ledger.history(session, member_id, limit=args["limit"] + 1,
                                  before_seq=int(cursor[0]) if cursor else None)
        page, cursor = keyset_page(rows, args["limit"], lambda transfer: (transfer.seq,))
        return {
            "items": [{"transfer_id": str(t.id), "points": ledger.signed_amount(t, member_id), "code": t.code,
                       "source_type": t.source_type, "source_id": t.source_id, "rule_id": t.rule_id,
                       "rule_version": t.rule_version, "reason": t.reason, "occurred_at": t.occurred_at,
                       "details": t.details, "created_at": t.created_at}
                      for t in page],
            "next_cursor": cursor,
        }
