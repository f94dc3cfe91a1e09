"""The one consumer loop: batch poll, one transaction per event with dedupe, offsets committed
only after the database, backoff on transient errors, dead-letter topic for poison messages."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from marshmallow import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from . import faults, metrics
from .db import Database, processed_events
from .events import Event, InvalidEvent, decode
from .failures import is_transient
from .topics import dead_letter_topic

log = logging.getLogger(__name__)

Handler = Callable[[Session, Event], None]


class PermanentError(Exception):
    """The event can never succeed as it stands: dead-letter it at once."""


@dataclass
class Backoff:
    initial: float = 0.1
    maximum: float = 10.0

    def delay(self, attempt: int) -> float:
        return min(self.maximum, self.initial * 2 ** max(0, attempt - 1))


class _JoinListener(ConsumerRebalanceListener):
    """Marks the moment the consumer has joined its group, even with no partitions assigned."""

    def __init__(self, joined: threading.Event):
        self.joined = joined

    def on_partitions_revoked(self, revoked) -> None:
        pass

    def on_partitions_assigned(self, assigned) -> None:
        self.joined.set()


class ConsumerLoop:
    def __init__(self, *, name: str, topics: list[str], handlers: Mapping[str, Handler],
                 database: Database, consumer_factory: Callable[[], object],
                 producer_factory: Callable[[], object], max_attempts: int = 4,
                 backoff: Backoff | None = None, poll_timeout_ms: int = 500, batch_size: int = 100):
        self.name = name
        self.batch_size = batch_size
        self.topics = topics
        self.handlers = dict(handlers)
        self.database = database
        self.consumer_factory = consumer_factory
        self.producer_factory = producer_factory
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.poll_timeout_ms = poll_timeout_ms
        self.ready = threading.Event()
        self.waiting_for: set[str] = set()
        self._joined = threading.Event()
        self._consumer = None
        self._producer = None

    def run(self, stop: threading.Event) -> None:
        self._consumer = self.consumer_factory()
        try:
            if not self._await_topics(stop):
                return
            self._consumer.subscribe(self.topics, listener=_JoinListener(self._joined))
            while not stop.is_set():
                batches = self._consumer.poll(timeout_ms=self.poll_timeout_ms)
                if not self.ready.is_set() and self._joined.is_set() and self._sees_every_topic():
                    self.ready.set()
                for partition, records in batches.items():
                    done = self._process(records, stop)
                    if done is not None:
                        self._commit(partition, done)
                    if stop.is_set():
                        break
        finally:
            self._consumer.close(autocommit=False)
            if self._producer is not None:
                self._producer.close(timeout=5)

    def _await_topics(self, stop: threading.Event) -> bool:
        """Subscribe only once every topic exists: a group joined before a topic's metadata arrives
        is assigned none of its partitions and would sit idle. False if stopped while waiting."""
        attempt = 0
        while not stop.is_set():
            self.waiting_for = {t for t in self.topics if not self._consumer.partitions_for_topic(t)}
            if not self.waiting_for:
                return True
            attempt += 1
            if attempt == 1 or attempt % 20 == 0:
                log.warning("waiting for topics to exist before subscribing",
                            extra={"consumer": self.name, "topics": sorted(self.waiting_for)})
            stop.wait(min(0.05 * 2 ** attempt, 1.0))
        return False

    def _sees_every_topic(self) -> bool:
        """The group has the partitions of every topic; a topic missing from the metadata is fetched
        again, and the changed metadata makes the group rebalance to include it."""
        return all(self._consumer.partitions_for_topic(topic) for topic in self.topics)

    def _process(self, records, stop: threading.Event):
        """Settle records in order; returns the last one settled. Runs of records go through one
        transaction when they all succeed (far fewer commits); any failure falls back to one by one."""
        last = None
        for start in range(0, len(records), self.batch_size):
            chunk = records[start:start + self.batch_size]
            if len(chunk) > 1 and self._apply_together(chunk):
                last = chunk[-1]
                continue
            for record in chunk:
                if not self.handle_record(record, stop):
                    return last
                last = record
        return last

    def _apply_together(self, records) -> bool:
        try:
            events = [decode(record.value) for record in records]
        except InvalidEvent:
            return False
        started = time.perf_counter()
        outcomes = []
        try:
            with self.database.transaction() as session:
                fresh = set(session.execute(
                    insert(processed_events)
                    .values([{"consumer": self.name, "event_id": uuid.UUID(e.id), "event_type": e.type}
                             for e in events])
                    .on_conflict_do_nothing()
                    .returning(processed_events.c.event_id)
                ).scalars())
                for event in events:
                    handler = self.handlers.get(event.type)
                    event_id = uuid.UUID(event.id)
                    if event_id not in fresh:
                        outcomes.append((event.type, "duplicate"))
                        continue
                    fresh.discard(event_id)
                    if handler is not None:
                        handler(session, event)
                    outcomes.append((event.type, "handled" if handler else "ignored"))
        except Exception as error:
            log.info("batch failed; settling its events one by one", extra={
                "consumer": self.name, "events": len(records), "error": repr(error)[:300]})
            return False
        for event_type, outcome in outcomes:
            faults.point("consumer.after_db_commit", event_type)
            metrics.EVENTS_HANDLED.labels(self.name, event_type, outcome).inc()
        metrics.EVENT_SECONDS.labels(self.name).observe((time.perf_counter() - started) / len(records))
        return True

    def _commit(self, partition: TopicPartition, record) -> None:
        try:
            self._consumer.commit({partition: OffsetAndMetadata(record.offset + 1, "", -1)})
        except KafkaError as error:
            log.warning("offset commit failed; redelivery will be deduplicated",
                        extra={"error": str(error), "partition": str(partition)})

    def handle_record(self, record, stop: threading.Event) -> bool:
        """Apply one record exactly once; False only when stopping before it was settled."""
        attempt = 0
        while True:
            attempt += 1
            try:
                event = decode(record.value)
                self.apply(event)
                return True
            except (InvalidEvent, PermanentError, ValidationError) as error:
                return self._dead_letter(record, error, attempt, stop)
            except Exception as error:
                transient = is_transient(error)
                if not transient and attempt >= self.max_attempts:
                    return self._dead_letter(record, error, attempt, stop)
                delay = self.backoff.delay(attempt)
                log.warning("event failed; retrying", extra={
                    "consumer": self.name, "topic": record.topic, "offset": record.offset,
                    "attempt": attempt, "transient": transient, "error": repr(error)[:300]})
                if stop.wait(delay):
                    return False

    def apply(self, event: Event) -> bool:
        """One transaction: record the event id, run its handler; False if seen before."""
        handler = self.handlers.get(event.type)
        started = time.perf_counter()
        with self.database.transaction() as session:
            fresh = session.execute(
                insert(processed_events)
                .values(consumer=self.name, event_id=uuid.UUID(event.id), event_type=event.type)
                .on_conflict_do_nothing()
                .returning(sa.literal(1))
            ).first()
            if fresh and handler is not None:
                handler(session, event)
        faults.point("consumer.after_db_commit", event.type)
        outcome = "duplicate" if not fresh else ("handled" if handler else "ignored")
        metrics.EVENTS_HANDLED.labels(self.name, event.type, outcome).inc()
        metrics.EVENT_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        return bool(fresh)

    def _dead_letter(self, record, error: BaseException, attempts: int, stop: threading.Event) -> bool:
        topic = dead_letter_topic(record.topic, self.name)
        headers = list(record.headers or []) + [
            ("error", repr(error)[:1000].encode()),
            ("error_type", type(error).__name__.encode()),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
            ("attempts", str(attempts).encode()),
            ("consumer", self.name.encode()),
        ]
        attempt = 0
        while not stop.is_set():
            attempt += 1
            try:
                if self._producer is None:
                    self._producer = self.producer_factory()
                self._producer.send(topic, key=record.key, value=record.value, headers=headers).get(timeout=15)
                metrics.DEAD_LETTERS.labels(record.topic).inc()
                log.error("message dead-lettered", extra={
                    "consumer": self.name, "dlq": topic, "offset": record.offset, "error": repr(error)[:300]})
                return True
            except Exception as send_error:
                log.warning("dead-letter publish failed; retrying", extra={"error": repr(send_error)})
                stop.wait(self.backoff.delay(attempt))
        return False
