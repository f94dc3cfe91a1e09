"""The one consumer loop: each poll is applied in one transaction with dedupe (per-event handlers one
after another, batch handlers once per type), offsets committed only after the database, backoff on
transient errors, a dead-letter topic for poison messages. When a poll's transaction fails, its events
are settled one by one, each in a transaction of its own, so one poison event cannot hold back the rest."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import sqlalchemy as sa
from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from marshmallow import ValidationError
from opentelemetry.trace import SpanKind
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from . import faults, metrics, tracing
from .db import Database, processed_events
from .events import Event, InvalidEvent, decode
from .failures import is_transient
from .topics import dead_letter_topic

log = logging.getLogger(__name__)

Handler = Callable[[Session, Event], None]


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that takes every event of its type in a poll at once, in the poll's transaction:
    the events are in offset order, new ones only (repeats were already filtered out)."""

    def handle_batch(self, session: Session, events: list[Event]) -> None: ...


@dataclass(frozen=True)
class Batched:
    """`{"points.earned": Batched(credit_all)}` registers `credit_all(session, events)` as a batch handler."""
    function: Callable[[Session, list[Event]], None]

    def handle_batch(self, session: Session, events: list[Event]) -> None:
        self.function(session, events)

    def __call__(self, session: Session, event: Event) -> None:
        """Called as a per-event handler, it handles a batch of one."""
        self.function(session, [event])


Registration = Handler | BatchHandler

# Executed with a poll's rows: compiled once and sent as one multi-row INSERT (compiling a fresh
# multi-row statement for every poll cost more than the database did).
_SEEN = insert(processed_events).on_conflict_do_nothing().returning(processed_events.c.event_id)


class PermanentError(Exception):
    """The event can never succeed as it stands: dead-letter it at once."""


@dataclass
class Backoff:
    initial: float = 0.1
    maximum: float = 10.0

    def delay(self, attempt: int) -> float:
        return min(self.maximum, self.initial * 2 ** max(0, attempt - 1))


@dataclass(frozen=True)
class Delivery:
    """One decoded record: the event, its Kafka key (what orders it) and its trace."""
    event: Event
    key: bytes | None
    traceparent: str | None
    record: object = None


def plan(deliveries: list[Delivery]) -> list[list[tuple[str, list[Delivery]]]]:
    """Group a poll into rounds of (type, deliveries) so each type is handled by as few calls as possible
    while every key keeps its order: a key's event joins the group of its previous event when the type
    is the same, a later group of that round when not, and the next round if that group came earlier."""
    rounds: list[dict[str, list[Delivery]]] = []
    latest: dict[bytes | None, tuple[int, str]] = {}
    for delivery in deliveries:
        kind = delivery.event.type
        number = 0
        if delivery.key in latest:
            number, previous = latest[delivery.key]
            order = list(rounds[number])
            if kind != previous and kind in order and order.index(kind) < order.index(previous):
                number += 1
        if number == len(rounds):
            rounds.append({})
        rounds[number].setdefault(kind, []).append(delivery)
        latest[delivery.key] = (number, kind)
    return [list(groups.items()) for groups in rounds]


class _JoinListener(ConsumerRebalanceListener):
    """Marks the moment the consumer has joined its group, even with no partitions assigned."""

    def __init__(self, joined: threading.Event):
        self.joined = joined

    def on_partitions_revoked(self, revoked) -> None:
        pass

    def on_partitions_assigned(self, assigned) -> None:
        self.joined.set()


class ConsumerLoop:
    def __init__(self, *, name: str, topics: list[str], handlers: Mapping[str, Registration],
                 database: Database, consumer_factory: Callable[[], object],
                 producer_factory: Callable[[], object], max_attempts: int = 4,
                 backoff: Backoff | None = None, poll_timeout_ms: int = 500, batch_size: int = 500):
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
                records = [record for partition_records in batches.values() for record in partition_records]
                for start in range(0, len(records), self.batch_size):
                    chunk = records[start:start + self.batch_size]
                    self._commit(chunk, self._settle(chunk, stop))
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

    def _settle(self, records, stop: threading.Event) -> set[int]:
        """Apply records in one transaction, or one by one when that fails, and dead-letter those that
        are not events at all; the ids of the records settled (fewer only when stopping)."""
        if len(records) == 1:
            return {id(records[0])} if self.handle_record(records[0], stop) else set()
        deliveries, poison = [], []
        for record in records:
            try:
                deliveries.append(Delivery(decode(record.value), record.key, tracing.traceparent_in(record.headers),
                                           record))
            except InvalidEvent as error:
                poison.append((record, error))
        settled: set[int] = set()
        if len(deliveries) > 1 and self._apply_together(deliveries):
            settled.update(id(d.record) for d in deliveries)
            for record, error in poison:
                if not self._dead_letter(record, error, 1, stop):
                    break
                settled.add(id(record))
            return settled
        # one by one in offset order, so dead letters keep the order their messages came in
        for record in records:
            if not self.handle_record(record, stop):
                break
            settled.add(id(record))
        return settled

    def _apply_together(self, deliveries: list[Delivery]) -> bool:
        started = time.perf_counter()
        outcomes: list[tuple[str, str]] = []
        timings: list[tuple[str, int, float]] = []
        try:
            with self.database.transaction() as session:
                fresh = set(session.execute(_SEEN, [
                    {"consumer": self.name, "event_id": uuid.UUID(d.event.id), "event_type": d.event.type}
                    for d in deliveries]).scalars())
                new = []
                for delivery in deliveries:
                    event_id = uuid.UUID(delivery.event.id)
                    if event_id in fresh:
                        fresh.discard(event_id)
                        new.append(delivery)
                    else:
                        outcomes.append((delivery.event.type, "duplicate"))
                for groups in plan(new):
                    for kind, group in groups:
                        began = time.perf_counter()
                        outcomes += [(kind, self._run_handler(session, kind, group))] * len(group)
                        timings.append((kind, len(group), time.perf_counter() - began))
        except Exception as error:
            log.info("batch failed; settling its events one by one", extra={
                "consumer": self.name, "events": len(deliveries), "error": repr(error)[:300]})
            return False
        for event_type, outcome in outcomes:
            faults.point("consumer.after_db_commit", event_type)
            metrics.EVENTS_HANDLED.labels(self.name, event_type, outcome).inc()
        for event_type, count, seconds in timings:
            for _ in range(count):
                metrics.EVENT_SECONDS.labels(self.name, event_type).observe(seconds / count)
        metrics.CONSUMER_TRANSACTIONS.labels(self.name).observe(len(deliveries))
        log.info("events applied", extra={
            "consumer": self.name, "events": len(deliveries), "outcomes": dict(Counter(o for _, o in outcomes)),
            "types": dict(Counter(t for t, _ in outcomes)), "ms": round((time.perf_counter() - started) * 1000, 2),
            "trace_ids": sorted({d.traceparent.split("-")[1] for d in deliveries
                                 if d.traceparent and d.traceparent.count("-") == 3})})
        return True

    def _run_handler(self, session: Session, kind: str, deliveries: list[Delivery]) -> str:
        """Hand events of one type to their handler: all at once to a batch handler, else one by one,
        each under its own trace. Returns the outcome for each of them."""
        handler = self.handlers.get(kind)
        if handler is None:
            return "ignored"
        if isinstance(handler, BatchHandler):
            causes = [(d.event.id, d.key.decode(errors="replace") if d.key else None, d.traceparent)
                      for d in deliveries]
            with tracing.batch_span(f"handle {kind}", causes,
                                    attributes={"messaging.consumer.group.name": self.name,
                                                "messaging.batch.message_count": len(deliveries)}):
                handler.handle_batch(session, [d.event for d in deliveries])
            return "handled"
        for delivery in deliveries:
            with self._span(delivery.event, delivery.traceparent):
                handler(session, delivery.event)
        return "handled"

    def _span(self, event: Event, traceparent: str | None):
        return tracing.span(f"handle {event.type}", parent=traceparent, kind=SpanKind.CONSUMER,
                            attributes={"messaging.consumer.group.name": self.name,
                                        "messaging.message.id": event.id})

    def _commit(self, records, settled: set[int]) -> None:
        """Commit, for each partition, the offset after its records settled without a gap."""
        last: dict[TopicPartition, int] = {}
        blocked: set[TopicPartition] = set()
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            if partition in blocked:
                continue
            if id(record) in settled:
                last[partition] = record.offset
            else:
                blocked.add(partition)
        if not last:
            return
        try:
            self._consumer.commit({partition: OffsetAndMetadata(offset + 1, "", -1)
                                   for partition, offset in last.items()})
        except KafkaError as error:
            log.warning("offset commit failed; redelivery will be deduplicated",
                        extra={"error": str(error), "partitions": sorted(map(str, last))})

    def handle_record(self, record, stop: threading.Event) -> bool:
        """Apply one record exactly once; False only when stopping before it was settled."""
        traceparent = tracing.traceparent_in(record.headers)
        with tracing.span(f"receive {record.topic}", parent=traceparent, kind=SpanKind.CONSUMER,
                          attributes={"messaging.consumer.group.name": self.name,
                                      "messaging.kafka.offset": record.offset}):
            attempt = 0
            while True:
                attempt += 1
                try:
                    event = decode(record.value)
                    self.apply(event, traceparent=tracing.current_traceparent())
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

    def apply(self, event: Event, *, traceparent: str | None = None) -> bool:
        """One transaction: record the event id, run its handler; False if seen before."""
        started = time.perf_counter()
        with self.database.transaction() as session:
            fresh = session.execute(
                insert(processed_events)
                .values(consumer=self.name, event_id=uuid.UUID(event.id), event_type=event.type)
                .on_conflict_do_nothing()
                .returning(sa.literal(1))
            ).first()
            outcome = "duplicate"
            if fresh:
                outcome = self._run_handler(session, event.type, [Delivery(event, None, traceparent)])
        faults.point("consumer.after_db_commit", event.type)
        log.info("event applied", extra={"consumer": self.name, "type": event.type, "event_id": event.id,
                                         "outcome": outcome})
        metrics.EVENTS_HANDLED.labels(self.name, event.type, outcome).inc()
        metrics.EVENT_SECONDS.labels(self.name, event.type).observe(time.perf_counter() - started)
        metrics.CONSUMER_TRANSACTIONS.labels(self.name).observe(1)
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
                metrics.DEAD_LETTERS.labels(self.name, record.topic).inc()
                log.error("message dead-lettered", extra={
                    "consumer": self.name, "dlq": topic, "offset": record.offset, "error": repr(error)[:300]})
                return True
            except Exception as error_sending:
                log.warning("dead-letter publish failed; retrying", extra={"error": repr(error_sending)})
                stop.wait(self.backoff.delay(attempt))
        return False
