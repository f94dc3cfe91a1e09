"""Long-polling: wait, without polling the database, until a redemption leaves `pending`.

A trigger on the redemptions table NOTIFYs `redemption_status` with the id whenever a status
changes; a waiting request LISTENs on its own connection and re-reads only when woken."""
from __future__ import annotations

import time
import uuid

import psycopg

from rewards_shared.db import Database, libpq_url

CHANNEL = "redemption_status"
MAX_WAIT_SECONDS = 30.0


def wait_until_settled(database: Database, redemption_id: uuid.UUID, seconds: float) -> None:
    """Return once the redemption is no longer pending, or after `seconds` (at most 30)."""
    deadline = time.monotonic() + min(seconds, MAX_WAIT_SECONDS)
    with psycopg.connect(libpq_url(database.url), autocommit=True) as connection:
        connection.execute(f"LISTEN {CHANNEL}")
        # Read after LISTEN, so a change committed in between is seen either here or as a notification.
        if not _pending(connection, redemption_id):
            return
        wanted = str(redemption_id)
        while (remaining := deadline - time.monotonic()) > 0:
            for notice in connection.notifies(timeout=remaining, stop_after=1):
                if notice.payload == wanted:
                    return


def _pending(connection: psycopg.Connection, redemption_id: uuid.UUID) -> bool:
    row = connection.execute("SELECT status FROM redemptions WHERE id = %s", (redemption_id,)).fetchone()
    return row is not None and row[0] == "pending"
