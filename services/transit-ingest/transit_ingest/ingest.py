"""Taps in, journeys out: storing operator taps once, pairing them per card, announcing journeys."""
from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared import outbox
from rewards_shared.events import Event
from rewards_shared.events.schemas import MODES

from .cards import CardHasher
from .models import CardLink, Journey, Tap
from .pairing import JourneyDraft, TapView, pair

SOURCE = "transit-ingest"
JOURNEY_NAMESPACE = uuid.UUID("0f4b2a8e-3f5c-4c1e-9a0d-2d7b8c6e5f41")
PAIRING_TIMEOUT = timedelta(hours=3)
MAX_TAPS_PER_BATCH = 10_000


class TapRow(Schema):
    tap_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    card_ref = fields.String(required=True, validate=validate.Length(min=1, max=128))
    occurred_at = fields.AwareDateTime(required=True)
    type = fields.String(required=True, validate=validate.OneOf(("on", "off", "single")))
    outcome = fields.String(load_default="allow", validate=validate.OneOf(("allow", "deny")))
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    route_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=128))
    stop_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=128))
    direction = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    vehicle_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=128))
    latitude = fields.Float(allow_none=True, load_default=None, validate=validate.Range(-90, 90))
    longitude = fields.Float(allow_none=True, load_default=None, validate=validate.Range(-180, 180))


_tap_row = TapRow()


@dataclass
class RowError:
    index: int
    field: str
    message: str


def validate_rows(rows: list) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """Split raw rows into valid taps (with their index) and per-field errors."""
    valid, errors = [], []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(RowError(index, "_row", "Each tap must be a JSON object."))
            continue
        try:
            valid.append((index, _tap_row.load(row)))
        except ValidationError as error:
            for field, messages in sorted(error.normalized_messages().items()):
                text = messages[0] if isinstance(messages, list) else str(messages)
                errors.append(RowError(index, field, text))
    return valid, errors


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int


def ingest(session: Session, operator_id: str, taps: list[dict], hasher: CardHasher,
           now: datetime | None = None) -> IngestResult:
    """Store new taps (a repeated tap id is a duplicate) and pair the affected cards."""
    if not taps:
        return IngestResult(0, 0)
    now = now or datetime.now(UTC)
    values = [{
        "operator_id": operator_id, "tap_id": t["tap_id"], "card_hash": hasher(operator_id, t["card_ref"]),
        "occurred_at": t["occurred_at"], "type": t["type"], "outcome": t["outcome"], "mode": t["mode"],
        "route_id": t["route_id"], "stop_id": t["stop_id"], "direction": t["direction"],
        "vehicle_id": t["vehicle_id"], "latitude": t["latitude"], "longitude": t["longitude"],
    } for t in taps]
    stored = session.execute(
        insert(Tap).values(values).on_conflict_do_nothing(constraint="taps_operator_tap").returning(Tap.card_hash)
    ).scalars().all()
    for card_hash in sorted(set(stored)):
        pair_card(session, operator_id, card_hash, now)
    return IngestResult(accepted=len(stored), duplicates=len(values) - len(stored))


def pair_card(session: Session, operator_id: str, card_hash: bytes, now: datetime) -> list[Journey]:
    """Pair the card's open taps; one card at a time, so concurrent batches cannot pair a tap twice."""
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(_card_lock(operator_id, card_hash))))
    rows = session.execute(
        sa.select(Tap).where(Tap.operator_id == operator_id, Tap.card_hash == card_hash,
                             Tap.journey_id.is_(None), Tap.outcome == "allow")
        .order_by(Tap.occurred_at)
    ).scalars().all()
    by_id = {row.tap_id: row for row in rows}
    result = pair([_view(row) for row in rows], now=now, timeout=PAIRING_TIMEOUT)
    member_id = linked_member(session, operator_id, card_hash)
    journeys = []
    for draft in result.journeys:
        journey = _journey(operator_id, card_hash, draft, member_id)
        session.add(journey)
        for tap in (draft.on, draft.off):
            if tap is not None:
                by_id[tap.tap_id].journey_id = journey.id
        journeys.append(journey)
    session.flush()
    for journey in journeys:
        announce(session, journey)
    return journeys


def linked_member(session: Session, operator_id: str, card_hash: bytes) -> str | None:
    return session.execute(
        sa.select(CardLink.member_id).where(CardLink.operator_id == operator_id, CardLink.card_hash == card_hash,
                                            CardLink.unlinked_at.is_(None))
    ).scalar()


def announce(session: Session, journey: Journey) -> None:
    """Tell the ledger about a journey of a known member (once per revision)."""
    if journey.member_id is None or journey.status != "completed":
        return
    revision = journey.announced_revision + 1
    event_type = "transit.journey.completed" if revision == 1 else "transit.journey.corrected"
    outbox.add(session, Event.create(event_type, SOURCE, journey.member_id, {
        "member_id": journey.member_id, "journey_id": journey.id, "operator_id": journey.operator_id,
        "kind": journey.kind, "mode": journey.mode, "started_at": journey.started_at.isoformat(),
        "ended_at": journey.ended_at.isoformat() if journey.ended_at else None, "route_id": journey.route_id,
        "origin_stop_id": journey.origin_stop_id, "destination_stop_id": journey.destination_stop_id,
        "distance_km": journey.distance_km, "revision": revision,
    }))
    journey.announced_revision = revision


def _journey(operator_id: str, card_hash: bytes, draft: JourneyDraft, member_id: str | None) -> Journey:
    return Journey(
        id=str(uuid.uuid5(JOURNEY_NAMESPACE, f"{operator_id}|{draft.on.tap_id}")),
        operator_id=operator_id, card_hash=card_hash, member_id=member_id, kind=draft.kind,
        status="completed", mode=draft.on.mode, started_at=draft.on.occurred_at,
        ended_at=draft.off.occurred_at if draft.off else None, route_id=draft.on.route_id,
        origin_stop_id=draft.on.stop_id, destination_stop_id=draft.off.stop_id if draft.off else None,
        distance_km=draft.distance_km, announced_revision=0,
    )


def _view(row: Tap) -> TapView:
    return TapView(tap_id=row.tap_id, occurred_at=row.occurred_at, type=row.type, outcome=row.outcome,
                   mode=row.mode, route_id=row.route_id, stop_id=row.stop_id,
                   latitude=row.latitude, longitude=row.longitude)


def _card_lock(operator_id: str, card_hash: bytes) -> int:
    return zlib.crc32(operator_id.encode() + card_hash) - 2**31
