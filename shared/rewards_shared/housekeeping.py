"""What every worker deletes on a schedule, so nothing personal is kept longer than it is needed:

- outbox rows once published (`OUTBOX_KEEP_SECONDS`, default 30): Kafka has them, and their
  payloads name members;
- stored `Idempotency-Key` replies (`IDEMPOTENCY_KEEP_HOURS`, default 168, a week): long after any
  client retries.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import outbox
from .db import idempotency_keys
from .jobs import PeriodicJob, drain
from .runtime import Runtime

BATCH = 5000


def forget_idempotency_keys(session: Session, *, keep: timedelta) -> int:
    doomed = (sa.select(idempotency_keys.c.principal, idempotency_keys.c.key)
              .where(idempotency_keys.c.created_at < sa.func.now() - keep).limit(BATCH))
    return session.execute(idempotency_keys.delete().where(
        sa.tuple_(idempotency_keys.c.principal, idempotency_keys.c.key).in_(doomed))).rowcount


def jobs(rt: Runtime) -> list[PeriodicJob]:
    """The housekeeping every service's worker runs beside its own jobs."""
    outbox_keep = timedelta(seconds=rt.settings.get_int("OUTBOX_KEEP_SECONDS", 30))
    keys_keep = timedelta(hours=rt.settings.get_int("IDEMPOTENCY_KEEP_HOURS", 7 * 24))
    return [
        PeriodicJob("forget-sent-outbox", max(5.0, outbox_keep.total_seconds() / 3),
                    lambda: outbox.purge_sent(rt.database, outbox_keep, batch=BATCH)),
        PeriodicJob("forget-idempotency-keys", 3600, lambda: drain(
            rt.database, lambda session: forget_idempotency_keys(session, keep=keys_keep), batch=BATCH)),
    ]
