"""JSON tap batches: validated row by row, stored in bulk, paired at once."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

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


def check_size(rows: list) -> None:
    batches.check_size(rows, limit=MAX_TAPS_PER_BATCH, noun="taps")


class _Invalid(Exception):
    pass


_REQUIRED, _NULL = "Missing data for required field.", "Field may not be null."


def _text(value, low: int, high: int) -> str:
    if not isinstance(value, str):
        raise _Invalid("Not a valid string.")
    if not low <= len(value) <= high:
        raise _Invalid(f"Length must be between {low} and {high}." if low else f"Longer than maximum length {high}.")
    return value


def _choice(choices: tuple[str, ...]):
    text = f"Must be one of: {', '.join(choices)}."

    def check(value) -> str:
        if not isinstance(value, str):
            raise _Invalid("Not a valid string.")
        if value not in choices:
            raise _Invalid(text)
        return value
    return check


def _aware_time(value) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise _Invalid("Not a valid datetime.") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _Invalid("Not a valid aware datetime.")
    return parsed


def _degrees(limit: int):
    text = f"Must be greater than or equal to {-limit} and less than or equal to {limit}."

    def check(value) -> float:
        if value is True or value is False:
            raise _Invalid("Not a valid number.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _Invalid("Not a valid number.") from None
        except OverflowError:
            raise _Invalid("Number too large.") from None
        if not math.isfinite(number):
            raise _Invalid("Special numeric values (nan or infinity) are not permitted.")
        if not -limit <= number <= limit:
            raise _Invalid(text)
        return number
    return check


def _upto(high: int):
    return lambda value: _text(value, 0, high)


# A pushed tap's fields: (name, required, default when absent, check). A field that may be absent may also
# be null, except `outcome`. The messages are those the API has always answered with.
TAP_FIELDS = (
    ("tap_id", True, None, lambda value: _text(value, 1, 128)),
    ("card_ref", True, None, lambda value: _text(value, 1, 128)),
    ("occurred_at", True, None, _aware_time),
    ("type", True, None, _choice(("on", "off", "single"))),
    ("outcome", False, "allow", _choice(("allow", "deny"))),
    ("mode", True, None, _choice(MODES)),
    ("route_id", False, None, _upto(128)),
    ("stop_id", False, None, _upto(128)),
    ("direction", False, None, _upto(64)),
    ("vehicle_id", False, None, _upto(128)),
    ("latitude", False, None, _degrees(90)),
    ("longitude", False, None, _degrees(180)),
    ("updated_at", False, None, _aware_time),  # when the operator last changed the tap: a later version replaces
)
_NAMES = frozenset(name for name, *_ in TAP_FIELDS)
_ABSENT = object()


def _tap(row: dict) -> tuple[dict, dict[str, str]]:
    """One pushed tap, checked once: (values, {field: message})."""
    tap, problems = {}, {}
    for name, required, default, check in TAP_FIELDS:
        value = row.get(name, _ABSENT)
        if value is _ABSENT:
            if required:
                problems[name] = _REQUIRED
            tap[name] = default
        elif value is None:
            if required or default is not None:
                problems[name] = _NULL
            tap[name] = None
        else:
            try:
                tap[name] = check(value)
            except _Invalid as error:
                problems[name] = str(error)
    if not _NAMES.issuperset(row):
        problems.update((key, "Unknown field.") for key in row if key not in _NAMES)
    if not problems and (tap["latitude"] is None) != (tap["longitude"] is None):
        missing = "latitude" if tap["latitude"] is None else "longitude"
        problems[missing] = "Latitude and longitude come together."
    return tap, problems


def validate_rows(rows: list) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """Split raw rows into valid taps (with their index) and per-field errors, each row checked once."""
    valid, errors = [], []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(RowError(index, "_row", "Each tap must be a JSON object."))
            continue
        tap, problems = _tap(row)
        if problems:
            errors.extend(RowError(index, field, problems[field]) for field in sorted(problems))
        else:
            valid.append((index, tap))
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
