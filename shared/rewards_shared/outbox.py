"""Transactional outbox: events are written with the state change that caused them and published
afterwards, in order, by a single relay per service.

A row is `pending` until the broker has it (`sent`). A row the broker refuses is tried again with
backoff; after `max_attempts` refusals it is `failed`, with its error kept, until someone retries it
(`rewards outbox retry`). A row that fails never holds up other keys. It does hold up the later rows
of its own key on its topic — from its first refusal until it is sent — so a member's events are never
published out of order. (The one exception: a refusal the broker reports only after later rows of
that key were already on their way in the same round; a row refused before it leaves, such as one too
large, never lets anything past.) A broker that is down is not held against the rows; nor is a topic
it has not got (yet): that topic is skipped for a while so its rows cannot fill every round, and they
wait with the reason recorded. Sent rows are deleted after `keep_sent`.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import sqlalchemy as sa
from kafka.errors import KafkaTimeoutError
from sqlalchemy.orm import Session

from . import faults, metrics, tracing
from .db import OUTBOX_CHANNEL, Database, libpq_url, outbox
from .events import Event, encode
from .jobs import drain
from .topics import topic_for

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"


def add(session: Session, event: Event, *, key: str | None = None, topic: str | None = None,
        caused_by: Event | None = None) -> None:
    """Queue `event` for publication when (and only if) the session's transaction commits."""
    add_many(session, [event], key=key, topic=topic, caused_by=caused_by)


def add_many(session: Session, events: list[Event], *, key: str | None = None, topic: str | None = None,
             caused_by: Event | None = None) -> None:
    """Each row carries the trace of the work that wrote it: the current one, or — inside a batch
    handler — that of `caused_by`, or else of the batch's event with the same key. The rows go in with
    one COPY, in the events' order, however many there are."""
    if not events:
        return
    connection = session.connection().connection.driver_connection
    with connection.cursor().copy(_COPY) as copy:
        for event in events:
            row_key = key if key is not None else event.subject
            copy.write_row((event.id, topic or topic_for(event.type), row_key, event.type, encode(event),
                            json.dumps({tracing.TRACEPARENT: tracing.traceparent_for_outbox(
                                caused_by=caused_by.id if caused_by else None, key=row_key)})))


_COPY = "COPY outbox (event_id, topic, key, event_type, payload, headers) FROM STDIN"


# Rows after the first troubled row (refused at least once, not yet sent) of their topic and key wait.
_DUE = sa.text("""
WITH troubled AS (
    SELECT topic, key, min(id) AS first_id FROM outbox
    WHERE status <> 'sent' AND last_error IS NOT NULL AND key IS NOT NULL
    GROUP BY topic, key)
SELECT o.id, o.event_id, o.topic, o.key, o.payload, o.headers, o.attempts FROM outbox o
WHERE o.status = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
  AND NOT o.topic = ANY(CAST(:stalled AS text[]))
  AND NOT EXISTS (SELECT 1 FROM troubled t WHERE t.topic = o.topic AND t.key = o.key AND t.first_id < o.id)
ORDER BY o.id
LIMIT :limit
""")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    first_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempts: int) -> float:
        return min(self.max_delay, self.first_delay * 2 ** max(0, attempts - 1))


class BrokerUnavailable(Exception):
    """Nothing in a round reached the broker, for reasons that pass: not the rows' fault."""


class OutboxRelay:
    """Publishes due outbox rows in id order with the idempotent producer, then marks them sent in
    one statement: the round waits for the broker once, not per message.

    Only the relay holding the service's advisory lock publishes, so order survives several workers.
    """

    def __init__(self, database: Database, producer_factory: Callable[[], object], *,
                 service: str, batch_size: int = 2000, idle_wait: float = 1.0,
                 retry: RetryPolicy | None = None):
        self.database = database
        self.producer_factory = producer_factory
        self.service = service
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.retry = retry or RetryPolicy()
        self.lock_id = zlib.crc32(f"outbox-relay:{service}".encode())
        self._producer = None
        self._listener: psycopg.Connection | None = None
        self._leading = False
        # topics the broker gave no metadata for (not created yet?): skipped until then, so their rows
        # can neither fill every round nor make each round wait for the metadata again
        self._stalled: dict[str, tuple[int, float]] = {}

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self._lead():
                    stop.wait(self.idle_wait)
                    continue
                if self.publish_batch() == 0:
                    self._wait_for_inserts(stop)
            except Exception as error:
                if isinstance(error, BrokerUnavailable):
                    log.warning("outbox relay cannot reach the broker; retrying", extra={"error": str(error)})
                else:
                    log.exception("outbox relay failed; retrying")
                self._reset()
                stop.wait(self.idle_wait)
        self._reset()

    def publish_batch(self) -> int:
        """One round: publish the due rows; how many were tried."""
        started = time.perf_counter()
        now = time.monotonic()
        stalled = {topic for topic, (_, until) in self._stalled.items() if until > now}
        with self.database.transaction() as session:
            rows = session.execute(_DUE, {"limit": self.batch_size, "stalled": sorted(stalled)}).all()
        if not rows:
            return 0
        producer = self._ensure_producer()
        futures, refused = [], {}
        held: set[tuple[str, str]] = set()
        for row in rows:
            if row.topic in stalled or (row.topic, row.key) in held:
                continue
            try:
                futures.append((row, producer.send(
                    row.topic, key=row.key.encode() if row.key else None, value=row.payload,
                    headers=[(k, str(v).encode()) for k, v in (row.headers or {}).items()])))
            except Exception as error:  # refused before it left: too large, or no metadata for its topic
                refused[row.id] = (row, error)
                if isinstance(error, KafkaTimeoutError):
                    stalls = self._stalled.get(row.topic, (0, 0.0))[0] + 1
                    self._stalled[row.topic] = (stalls, time.monotonic() + self.retry.delay(stalls))
                    stalled.add(row.topic)
                if row.key is not None:
                    held.add((row.topic, row.key))
        producer.flush()
        sent = []
        for row, future in futures:
            if future.succeeded():
                sent.append(row.id)
                self._stalled.pop(row.topic, None)
            else:
                refused[row.id] = (row, future.exception)
        faults.point("relay.after_publish")
        # Nothing got through and every error may pass: the broker, not the rows, is at fault, so no
        # attempt counts. A row whose topic had no metadata still records why it waits.
        outage = not sent and all(getattr(error, "retriable", False) for _, error in refused.values())
        with self.database.transaction() as session:
            if sent:
                session.execute(outbox.update().where(outbox.c.id.in_(sent))
                                .values(status=SENT, published_at=sa.func.now(), next_attempt_at=None))
            for row, error in refused.values():
                if not outage or (isinstance(error, KafkaTimeoutError) and row.topic in stalled):
                    self._refused(session, row, error, counts=not outage)
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(sent))
        metrics.OUTBOX_PUBLISH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        unreachable = [error for row, error in refused.values() if row.topic not in stalled]
        if outage and unreachable:
            raise BrokerUnavailable(str(unreachable[0]))
        return len(rows)

    def _refused(self, session: Session, row, error: BaseException, *, counts: bool = True) -> None:
        attempts = row.attempts + counts
        final = attempts >= self.retry.max_attempts
        session.execute(outbox.update().where(outbox.c.id == row.id).values(
            attempts=attempts, last_error=repr(error)[:1000], last_attempt_at=sa.func.now(),
            status=FAILED if final else PENDING,
            next_attempt_at=None if final else sa.func.now() + timedelta(seconds=self.retry.delay(max(attempts, 1)))))
        extra = {"event_id": str(row.event_id), "topic": row.topic, "attempts": attempts, "error": repr(error)[:300]}
        traceparent = (row.headers or {}).get(tracing.TRACEPARENT, "")
        if traceparent.count("-") == 3:  # the line belongs to the trace of the work that wrote the row
            extra["trace_id"] = traceparent.split("-")[1]
        if final:
            metrics.OUTBOX_FAILED.labels(self.service, row.topic).inc()
            log.error("outbox row failed; later rows of its key wait until it is retried", extra=extra)
        else:
            log.warning("outbox row refused; it will be retried", extra=extra)

    def _lead(self) -> bool:
        if self._listener is None or self._listener.closed:
            self._listener = psycopg.connect(libpq_url(self.database.url), autocommit=True)
            self._listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
            self._leading = False
        if not self._leading:
            self._leading = bool(self._listener.execute(
                "SELECT pg_try_advisory_lock(%s)", (self.lock_id,)).fetchone()[0])
        return self._leading

    def _wait_for_inserts(self, stop: threading.Event) -> None:
        for _ in self._listener.notifies(timeout=self.idle_wait, stop_after=1):
            pass

    def _ensure_producer(self):
        if self._producer is None:
            self._producer = self.producer_factory()
        return self._producer

    def _reset(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:
                pass
            self._listener = None
        if self._producer is not None:
            try:
                self._producer.close(timeout=5)
            except Exception:
                pass
            self._producer = None


# --- looking after the table -------------------------------------------------------------------------

@dataclass(frozen=True)
class Backlog:
    pending: int
    failed: int
    oldest_pending_at: datetime | None


def backlog(database: Database) -> Backlog:
    with database.reading() as connection:
        pending = connection.execute(sa.select(sa.func.count()).select_from(outbox)
                                     .where(outbox.c.status == PENDING)).scalar_one()
        failed = connection.execute(sa.select(sa.func.count()).select_from(outbox).where(
            outbox.c.status == FAILED, outbox.c.last_error.is_not(None))).scalar_one()
        oldest = connection.execute(sa.select(outbox.c.created_at).where(outbox.c.status == PENDING)
                                    .order_by(outbox.c.id).limit(1)).scalar()
    return Backlog(pending, failed, oldest)


def observe(database: Database, service: str) -> Backlog:
    """Set the backlog gauges: rows pending and failed, and how long the oldest pending row has waited."""
    found = backlog(database)
    metrics.OUTBOX_ROWS.labels(service, PENDING).set(found.pending)
    metrics.OUTBOX_ROWS.labels(service, FAILED).set(found.failed)
    with database.reading() as connection:
        now = connection.execute(sa.select(sa.func.now())).scalar_one()
    age = (now - found.oldest_pending_at).total_seconds() if found.oldest_pending_at else 0.0
    metrics.OUTBOX_OLDEST_PENDING.labels(service).set(max(0.0, age))
    return found


def purge_sent(database: Database, older_than: timedelta, *, batch: int = 5000) -> int:
    """Delete rows sent more than `older_than` ago, a batch per transaction; how many."""
    def step(session: Session) -> int:
        chosen = (sa.select(outbox.c.id).where(outbox.c.status == SENT,
                                               outbox.c.published_at < sa.func.now() - older_than)
                  .order_by(outbox.c.published_at).limit(batch).scalar_subquery())
        return session.execute(sa.delete(outbox).where(outbox.c.id.in_(chosen))).rowcount
    return drain(database, step, batch=batch)


def listing(session: Session, *, status: str = FAILED, limit: int = 100) -> list[dict]:
    """Rows in `status`, oldest first, each with how many later rows of its key it holds back."""
    other = outbox.alias("later")
    later = (sa.select(sa.func.count()).where(other.c.topic == outbox.c.topic, other.c.key == outbox.c.key,
                                              other.c.id > outbox.c.id, other.c.status == PENDING)
             .correlate(outbox).scalar_subquery())
    rows = session.execute(
        sa.select(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.topic, outbox.c.key,
                  outbox.c.status, outbox.c.attempts, outbox.c.last_error, outbox.c.created_at,
                  outbox.c.last_attempt_at, later.label("holding_back"))
        .where(outbox.c.status == status).order_by(outbox.c.id).limit(limit)).mappings().all()
    return [dict(row) for row in rows]


def retry(session: Session, ids: Sequence[int] | None = None) -> int:
    """Put failed rows (those named, or all) back to pending with fresh attempts; how many. Their error
    stays until they are sent, so the later rows of their key keep waiting behind them."""
    query = outbox.update().where(outbox.c.status == FAILED)
    if ids is not None:
        query = query.where(outbox.c.id.in_(list(ids)))
    count = session.execute(query.values(status=PENDING, attempts=0, next_attempt_at=None)).rowcount
    if count:
        session.execute(sa.select(sa.func.pg_notify(OUTBOX_CHANNEL, "")))
    return count
