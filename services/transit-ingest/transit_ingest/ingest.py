"""JSON tap batches: validated row by row, stored in bulk, paired at once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from rewards_shared import batches, metrics
from rewards_shared.batches import RowError
from rewards_shared.events.schemas import MODES
from rewards_shared.runtime import utc_now

from . import journeys
from .cards import CardHasher
from .formats import TapRecord
from .store import store_taps

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
    updated_at = fields.AwareDateTime(allow_none=True, load_default=None, metadata={
        "description": "When the operator last changed this tap; a later version replaces an earlier one"})


_tap_row = TapRow()


def check_size(rows: list) -> None:
    batches.check_size(rows, limit=MAX_TAPS_PER_BATCH, noun="taps")


def _positioned(tap: dict) -> tuple[str, str] | None:
    if (tap["latitude"] is None) != (tap["longitude"] is None):
        return "latitude" if tap["latitude"] is None else "longitude", "Latitude and longitude come together."
    return None


def validate_rows(rows: list) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """Split raw rows into valid taps (with their index) and per-field errors."""
    valid, errors = batches.load_rows(rows, _tap_row, "tap", _positioned)
    metrics.count_feed_rows("json-push", rejected=len({error.index for error in errors}))
    return valid, errors


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    replaced: int
    duplicates: int


def ingest(session: Session, operator_id: str, taps: list[tuple[int, dict]], hasher: CardHasher,
           now: datetime | None = None) -> IngestResult:
    """Store the batch's valid taps (a repeated tap id is a duplicate, a changed one replaces) and pair
    the cards they touch before the batch commits."""
    now = now or utc_now()
    records = [TapRecord(index, t["tap_id"], hasher(operator_id, t["card_ref"]), t["occurred_at"], t["type"],
                         t["outcome"], t["mode"], t["route_id"], t["stop_id"], t["direction"], t["vehicle_id"],
                         t["latitude"], t["longitude"], t["updated_at"]) for index, t in taps]
    stored = store_taps(session, operator_id, records, now=now)
    if stored.cards:
        journeys.drain(session, now=now, operator_id=operator_id, cards=stored.cards, limit=len(stored.cards))
    metrics.count_feed_rows("json-push", session, accepted=stored.accepted, replaced=stored.replaced,
                            duplicate=stored.duplicates)
    return IngestResult(stored.accepted, stored.replaced, stored.duplicates)
