"""Transactional outbox: events are written with the state change that caused them and
published afterwards, in order, by a single relay per service."""
from __future__ import annotations

import logging
import threading
import uuid
import zlib
from collections.abc import Callable

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import faults, metrics
from .db import OUTBOX_CHANNEL, Database, libpq_url, outbox
from .events import Event, encode
from .topics import topic_for

log = logging.getLogger(__name__)


def add(session: Session, event: Event, *, key: str | None = None, topic: str | None = None) -> None:
    """Queue `event` for publication when (and only if) the session's transaction commits."""
    add_many(session, [event], key=key, topic=topic)


def add_many(session: Session, events: list[Event], *, key: str | None = None, topic: str | None = None) -> None:
    if not events:
        return
    session.execute(outbox.insert(), [
        {
            "event_id": uuid.UUID(event.id),
            "topic": topic or topic_for(event.type),
            "key": key if key is not None else event.subject,
            "event_type": event.type,
            "payload": encode(event),
            "headers": {},
        }
        for event in events
    ])


class OutboxRelay:
    """Publishes pending outbox rows in id order with the idempotent producer and marks them sent.

    Only the relay holding the service's advisory lock publishes, so order survives several workers.
    """

    def __init__(self, database: Database, producer_factory: Callable[[], object], *,
                 service: str, batch_size: int = 1000, idle_wait: float = 1.0):
        self.database = database
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.lock_id = zlib.crc32(f"outbox-relay:{service}".encode())
        self._producer = None
        self._listener: psycopg.Connection | None = None
        self._leading = False

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self._lead():
                    stop.wait(self.idle_wait)
                    continue
                if self.publish_batch() == 0:
                    self._wait_for_inserts(stop)
            except Exception:
                log.exception("outbox relay failed; retrying")
                self._reset()
                stop.wait(self.idle_wait)
        self._reset()

    def publish_batch(self) -> int:
        with self.database.transaction() as session:
            rows = session.execute(
                sa.select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload, outbox.c.headers)
                .where(outbox.c.status == "pending").order_by(outbox.c.id).limit(self.batch_size)
            ).all()
        if not rows:
            return 0
        producer = self._ensure_producer()
        futures = [
            producer.send(row.topic, key=row.key.encode() if row.key else None, value=row.payload,
                          headers=[(k, str(v).encode()) for k, v in (row.headers or {}).items()])
            for row in rows
        ]
        producer.flush()
        sent = []
        error = None
        for row, future in zip(rows, futures, strict=True):
            try:
                future.get(timeout=0)
                sent.append(row.id)
            except Exception as exc:
                error = exc
                break
        faults.point("relay.after_publish")
        with self.database.transaction() as session:
            if sent:
                session.execute(outbox.update().where(outbox.c.id.in_(sent))
                                .values(status="sent", published_at=sa.func.now()))
            if error is not None:
                session.execute(outbox.update().where(outbox.c.id == rows[len(sent)].id)
                                .values(attempts=outbox.c.attempts + 1, last_error=str(error)[:500]))
        metrics.OUTBOX_PUBLISHED.inc(len(sent))
        if error is not None:
            raise error
        return len(sent)

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
