"""Storing taps in bulk: COPY into a staging table, then one upsert that keeps the latest version of
each operator transaction id and queues the cards whose taps changed for (re)pairing."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from .formats import TapRecord

STAGED = ("line", "tap_id", "card_hash", "occurred_at", "type", "outcome", "mode", "route_id", "stop_id",
          "direction", "vehicle_id", "latitude", "longitude", "version_at")
_DATA = STAGED[1:]

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS incoming_taps (
    line bigint, tap_id text, card_hash bytea, occurred_at timestamptz, type text, outcome text, mode text,
    route_id text, stop_id text, direction text, vehicle_id text, latitude float8, longitude float8,
    version_at timestamptz
) ON COMMIT DELETE ROWS
"""

# A later version replaces the stored one only if it says something different; an older version, or the
# same row again, is a duplicate. Both the old and the new time and card of a changed tap are re-paired
# (`previous` reads the statement's snapshot, so it sees replaced taps as they were). Cards are queued
# in one order everywhere, so two batches touching the same cards wait for each other, never deadlock.
_LATEST = "(SELECT DISTINCT ON (tap_id) * FROM incoming_taps ORDER BY tap_id, version_at DESC NULLS LAST, line DESC) l"
_UPSERT = f"""
WITH written AS (
    INSERT INTO taps (operator_id, feed_id, {", ".join(_DATA)})
    SELECT %(operator)s, %(feed)s, {", ".join(_DATA)} FROM {{source}}
    ON CONFLICT (operator_id, tap_id) DO UPDATE SET
        {", ".join(f"{c} = excluded.{c}" for c in _DATA[1:])}, feed_id = excluded.feed_id, received_at = now()
    WHERE (taps.version_at IS NULL OR excluded.version_at IS NULL OR excluded.version_at >= taps.version_at)
      AND ({", ".join(f"taps.{c}" for c in _DATA[1:-1])})
          IS DISTINCT FROM ({", ".join(f"excluded.{c}" for c in _DATA[1:-1])})
    RETURNING tap_id, card_hash, occurred_at, (xmax = 0) AS inserted
), previous AS (
    SELECT t.card_hash, t.occurred_at FROM taps t JOIN written w ON t.tap_id = w.tap_id
    WHERE t.operator_id = %(operator)s AND NOT w.inserted
), touched AS (
    SELECT card_hash, occurred_at FROM written UNION ALL SELECT card_hash, occurred_at FROM previous
), queued AS (
    INSERT INTO pairing_queue (operator_id, card_hash, since, due_at)
    SELECT %(operator)s, card_hash, min(occurred_at), %(now)s FROM touched GROUP BY card_hash ORDER BY card_hash
    ON CONFLICT (operator_id, card_hash) DO UPDATE
    SET since = least(pairing_queue.since, excluded.since), due_at = least(pairing_queue.due_at, excluded.due_at)
    WHERE excluded.since < pairing_queue.since OR excluded.due_at < pairing_queue.due_at
    RETURNING card_hash
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
       (SELECT array_agg(card_hash) FROM queued)
FROM written
"""


@dataclass(frozen=True)
class Stored:
    accepted: int
    replaced: int
    duplicates: int
    cards: list[bytes]


def store_taps(session: Session, operator_id: str, records: Sequence[TapRecord], *, now: datetime,
               feed_id: uuid.UUID | None = None) -> Stored:
    """Store valid taps; new ones are accepted, changed ones replace, the rest are duplicates."""
    if not records:
        return Stored(0, 0, 0, [])
    connection = session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        cursor.execute(_STAGING)
        cursor.execute("DELETE FROM incoming_taps")
        with cursor.copy(f"COPY incoming_taps ({', '.join(STAGED)}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)
        repeated = len({record.tap_id for record in records}) < len(records)
        cursor.execute(_UPSERT.format(source=_LATEST if repeated else "incoming_taps"),
                       {"operator": operator_id, "feed": feed_id, "now": now})
        accepted, replaced, cards = cursor.fetchone()
    return Stored(accepted, replaced, len(records) - accepted - replaced, cards or [])
