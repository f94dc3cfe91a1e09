"""Activities attested by providers (a leisure centre's bookings, a bike share's trips, a library's loans…).

A provider sends batches; each row is checked on its own and bad rows come back by index and field while
the good ones go through. A row is keyed by the provider's own `activity_id`: the same row again is a
duplicate, a changed one a correction (the next revision), `void: true` takes it back. Each change goes to
the ledger and the impact service as an event on `activities.v1`; the ledger credits (or re-credits, or
reverses) by the earning rules. A member is named by `member_id`, or by the membership the app linked,
which is only ever kept as a keyed HMAC of (provider, reference).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared import batches, erasure, outbox
from rewards_shared.batches import KeyedHasher, RowError
from rewards_shared.errors import Conflict, Forbidden, NotFound
from rewards_shared.events import Event
from rewards_shared.events.schemas import ACTIVITY_KINDS
from rewards_shared.validation import IDENTIFIER

from .models import Activity, Member, Membership, Provider

SOURCE = "points"
MAX_ACTIVITIES_PER_BATCH = 10_000
MAX_QUANTITY = {"visit": 1, "check": 1, "km": 500}
OLDEST = timedelta(days=90)  # a provider reports what happened recently, not years ago
SKEW = timedelta(minutes=5)  # clocks differ a little


def priorities(kind: str) -> tuple[str, ...]:
    return ACTIVITY_KINDS[kind][0]


def unit_of(kind: str) -> str:
    return ACTIVITY_KINDS[kind][1]


class ActivityRow(Schema):
    activity_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    member_id = fields.String(allow_none=True, load_default=None, validate=IDENTIFIER)
    membership_ref = fields.String(allow_none=True, load_default=None, validate=validate.Length(min=1, max=128),
                                   metadata={"description": "The member's card or membership at the provider"})
    kind = fields.String(required=True, validate=validate.OneOf(ACTIVITY_KINDS))
    occurred_at = fields.AwareDateTime(required=True)
    quantity = fields.Float(load_default=1.0, validate=validate.Range(min=0, min_inclusive=False))
    unit = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=16))
    void = fields.Boolean(load_default=False, metadata={"description": "Take back an activity sent before"})

    @validates_schema
    def _one_member(self, data, **kwargs):
        if (data.get("member_id") is None) == (data.get("membership_ref") is None):
            raise ValidationError("Give member_id or membership_ref (one of them).", "member_id")
        kind = data.get("kind")
        if kind in ACTIVITY_KINDS:
            unit = unit_of(kind)
            if data.get("unit") not in (None, unit):
                raise ValidationError(f"A {kind} is counted in {unit}.", "unit")
            if data.get("quantity") is not None and data["quantity"] > MAX_QUANTITY[unit]:
                raise ValidationError(f"At most {MAX_QUANTITY[unit]} {unit} for one {kind}.", "quantity")


_row = ActivityRow()


@dataclass
class BatchResult:
    accepted: int = 0
    corrected: int = 0
    voided: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return batches.rejected(self.errors)


class MembershipHasher(KeyedHasher):
    setting = "a membership HMAC key (MEMBERSHIP_HMAC_KEY or MEMBERSHIP_HMAC_KEY_FILE)"


def check_size(rows: list) -> None:
    batches.check_size(rows, limit=MAX_ACTIVITIES_PER_BATCH, noun="activities")


def validate_rows(rows: list, *, now: datetime) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """Split raw rows into valid activities (with their index, and their kind's unit) and per-field errors."""
    def recent(activity: dict) -> tuple[str, str] | None:
        if activity["occurred_at"] > now + SKEW:
            return "occurred_at", "In the future."
        if activity["occurred_at"] < now - OLDEST:
            return "occurred_at", f"More than {OLDEST.days} days ago."
        activity["unit"] = unit_of(activity["kind"])
        return None

    return batches.load_rows(rows, _row, "activity", recent)


# --- providers and memberships --------------------------------------------------------------------


def register_provider(session: Session, *, provider_id: str, name: str, kinds: list[str]) -> tuple[Provider, bool]:
    created = session.execute(insert(Provider).values(provider_id=provider_id, name=name, kinds=sorted(set(kinds)))
                              .on_conflict_do_nothing().returning(Provider.provider_id)).first() is not None
    provider = session.get(Provider, provider_id)
    if not created and (provider.name, sorted(provider.kinds)) != (name, sorted(set(kinds))):
        raise Conflict(f"Provider {provider_id} exists with other details.", field="provider_id")
    return provider, created


def providers(session: Session) -> list[Provider]:
    return list(session.execute(sa.select(Provider).order_by(Provider.provider_id)).scalars())


def active_provider(session: Session, provider_id: str) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"No provider {provider_id}.", field="provider_id")
    if not provider.active:
        raise Forbidden(f"Provider {provider_id} is suspended.", field="provider_id")
    return provider


def link_membership(session: Session, hasher: MembershipHasher, *, provider_id: str, membership_ref: str,
                    member_id: str) -> bool:
    """Name the member a provider's membership reference stands for; True when newly linked."""
    active_provider(session, provider_id)
    ref_hash = hasher(provider_id, membership_ref)
    created = session.execute(insert(Membership).values(provider_id=provider_id, ref_hash=ref_hash,
                                                        member_id=member_id)
                              .on_conflict_do_nothing().returning(Membership.member_id)).first() is not None
    if not created and session.get(Membership, (provider_id, ref_hash)).member_id != member_id:
        raise Conflict("That membership is linked to another member.", field="membership_ref")
    return created


def memberships_of(session: Session, member_id: str, *, after: str | None, limit: int) -> list[dict]:
    """The providers the member has linked a card or membership at, by provider (never the references)."""
    query = (sa.select(Provider.provider_id, Provider.name, sa.func.count().label("memberships"),
                       sa.func.min(Membership.linked_at).label("linked_at"))
             .join(Membership, Membership.provider_id == Provider.provider_id)
             .where(Membership.member_id == member_id)
             .group_by(Provider.provider_id, Provider.name).order_by(Provider.provider_id).limit(limit))
    if after is not None:
        query = query.where(Provider.provider_id > after)
    return [dict(row._mapping) for row in session.execute(query)]


def unlink_memberships(session: Session, *, provider_id: str, member_id: str) -> int:
    """Forget every card or membership of the member at the provider: rows naming them name no one from
    now on (what they earned stays). How many were linked."""
    return len(session.execute(sa.delete(Membership).where(
        Membership.provider_id == provider_id, Membership.member_id == member_id)
        .returning(Membership.ref_hash)).all())


# --- a batch --------------------------------------------------------------------------------------


def record(session: Session, provider: Provider, valid: list[tuple[int, dict]], hasher: MembershipHasher, *,
           now: datetime, result: BatchResult) -> BatchResult:
    """Store each valid row (new, duplicate, correction or void) and tell the others of every change."""
    ids = list({activity["activity_id"] for _, activity in valid})
    known = {a.activity_id: a for a in session.execute(sa.select(Activity).where(
        Activity.provider_id == provider.provider_id, Activity.activity_id.in_(ids)).with_for_update()).scalars()}
    members = _members(session, provider.provider_id, [a for _, a in valid], hasher)
    told: list[Event] = []
    for index, activity in valid:
        error = _apply(session, provider, activity, known, members, now=now, result=result, told=told)
        if error is not None:
            result.errors.append(RowError(index, *error))
    session.flush()
    outbox.add_many(session, told)
    return result


def _members(session: Session, provider_id: str, rows: list[dict], hasher: MembershipHasher) -> dict:
    """member_id → itself, or membership_ref → member id, for every row that names a living member."""
    refs = {a["membership_ref"]: hasher(provider_id, a["membership_ref"]) for a in rows if a["membership_ref"]}
    by_hash = dict(session.execute(sa.select(Membership.ref_hash, Membership.member_id).where(
        Membership.provider_id == provider_id, Membership.ref_hash.in_(list(refs.values())))).all()) if refs else {}
    named = {a["member_id"] for a in rows if a["member_id"]} | set(by_hash.values())
    living = set(session.execute(sa.select(Member.member_id).where(
        Member.member_id.in_(list(named)), Member.erased_at.is_(None))).scalars()) if named else set()
    found = {("member_id", m): m for m in named if m in living}
    found.update({("membership_ref", ref): by_hash[h] for ref, h in refs.items() if by_hash.get(h) in living})
    return found


def _apply(session: Session, provider: Provider, row: dict, known: dict[str, Activity], members: dict, *,
           now: datetime, result: BatchResult, told: list[Event]) -> tuple[str, str] | None:
    if row["kind"] not in provider.kinds:
        return "kind", f"Provider {provider.provider_id} is not registered for {row['kind']}."
    named_by = "member_id" if row["member_id"] else "membership_ref"
    member_id = members.get((named_by, row[named_by]))
    if member_id is None or member_id.startswith(erasure.PSEUDONYM_PREFIX):
        return named_by, ("No such member." if named_by == "member_id" else "No member is linked to this membership.")
    current = known.get(row["activity_id"])
    if current is not None and current.member_id != member_id:
        return named_by, "This activity belongs to another member; void it and send a new activity_id."
    if row["void"]:
        if current is None:
            return "activity_id", "No such activity to void."
        if current.voided:
            result.duplicates += 1
            return None
        current.voided, current.revision, current.updated_at = True, current.revision + 1, now
        told.append(_event("activity.voided", current, reason="voided by the provider"))
        result.voided += 1
        return None
    if current is None:
        current = Activity(provider_id=provider.provider_id, activity_id=row["activity_id"], member_id=member_id,
                           kind=row["kind"], occurred_at=row["occurred_at"], quantity=row["quantity"],
                           unit=row["unit"], revision=1, voided=False, received_at=now, updated_at=now)
        session.add(current)
        known[row["activity_id"]] = current
        told.append(_event("activity.recorded", current))
        result.accepted += 1
        return None
    if current.voided:
        return "activity_id", "This activity was voided; send a new activity_id."
    if (current.kind, current.occurred_at, current.quantity) == (row["kind"], row["occurred_at"], row["quantity"]):
        result.duplicates += 1
        return None
    current.kind, current.occurred_at, current.quantity, current.unit = (row["kind"], row["occurred_at"],
                                                                         row["quantity"], row["unit"])
    current.revision, current.updated_at = current.revision + 1, now
    told.append(_event("activity.corrected", current))
    result.corrected += 1
    return None


def _event(event_type: str, activity: Activity, **extra) -> Event:
    data = {"member_id": activity.member_id, "provider_id": activity.provider_id,
            "activity_id": activity.activity_id, "kind": activity.kind, "revision": activity.revision}
    if event_type != "activity.voided":
        data.update(priorities=list(priorities(activity.kind)), occurred_at=activity.occurred_at.isoformat(),
                    quantity=activity.quantity, unit=activity.unit)
    return Event.create(event_type, SOURCE, activity.member_id, {**data, **extra})

