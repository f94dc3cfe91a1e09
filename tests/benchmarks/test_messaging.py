"""What the messaging settings buy: the outbox relay's rows/s, raw producer and consumer msgs/s under each
candidate Kafka setting, and the consumer loop with per-event against batch handlers.

Figures are printed and written to tests/benchmarks/results/messaging.json; nothing about speed is
asserted. `BENCH_MESSAGES` sets the size (default 20,000 messages of about 600 bytes, like an event).
"""
from __future__ import annotations

import os
import time
import uuid

import pytest
import sqlalchemy as sa

from rewards_shared import kafka, outbox
from rewards_shared.consumer import Batched, ConsumerLoop
from rewards_shared.db import outbox as outbox_table
from rewards_shared.events import Event, encode
from rewards_shared.outbox import OutboxRelay
from rewards_shared.topics import TopicSpec, dead_letter_topic
from tests.benchmarks.support import record
from tests.integration.conftest import Running, credits, scratch_db  # noqa: F401 (the fixture)
from tests.support.polling import wait_for

pytestmark = pytest.mark.benchmark
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "20000"))
MEMBERS = 2000


def events(count: int, prefix: str) -> list[Event]:
    return [Event.create("points.earned", "bench", f"{prefix}-{n % MEMBERS}", {
        "member_id": f"{prefix}-{n % MEMBERS}", "points": 10, "source_type": "journey", "source_id": f"j-{n}",
        "rule_id": "journey-by-mode", "rule_version": 1, "transfer_id": str(uuid.uuid4())}) for n in range(count)]


def new_topic(bootstrap: str, partitions: int = 6) -> str:
    name = f"bench.msg.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(bootstrap, (TopicSpec(name, partitions=partitions),))
    return name


def produce(bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]], *, wait_each: bool = False,
            **settings) -> float:
    producer = kafka.producer(bootstrap, "bench-produce", **settings)
    started = time.perf_counter()
    for key, value in payloads:
        future = producer.send(topic, key=key, value=value)
        if wait_each:
            future.get(timeout=30)
    producer.flush()
    rate = len(payloads) / (time.perf_counter() - started)
    producer.close()
    return round(rate)


def consume(bootstrap: str, topic: str, expected: int, **settings) -> float:
    consumer = kafka.consumer(bootstrap, f"bench-{uuid.uuid4().hex[:6]}", "bench-consume", **settings)
    consumer.subscribe([topic])
    seen, started = 0, None
    deadline = time.monotonic() + 120
    while seen < expected and time.monotonic() < deadline:
        polled_at = time.perf_counter()
        batch = consumer.poll(timeout_ms=500)
        if batch and started is None:
            started = polled_at
        seen += sum(len(records) for records in batch.values())
    rate = seen / (time.perf_counter() - started) if started else 0.0
    consumer.close()
    return round(rate)


PRODUCER_VARIANTS = {
    "before: linger 5 ms, 256 KiB batches, no compression": dict(linger_ms=5, compression_type=None),
    "linger 0": dict(linger_ms=0, compression_type=None),
    "linger 20 ms": dict(linger_ms=20, compression_type=None),
    "linger 5 ms + gzip": dict(linger_ms=5, compression_type="gzip"),
    "linger 5 ms, 1 MiB batches": dict(linger_ms=5, compression_type=None, batch_size=1024 * 1024),
}
for codec, module in (("lz4", "lz4"), ("zstd", "zstandard"), ("snappy", "snappy")):
    try:
        __import__(module)
        PRODUCER_VARIANTS[f"linger 5 ms + {codec}"] = dict(linger_ms=5, compression_type=codec)
    except ImportError:
        pass

CONSUMER_VARIANTS = {
    "kafka-python defaults (fetch_min 1 B, 1 MiB per partition, 500 records)": dict(
        fetch_min_bytes=1, fetch_max_wait_ms=500, max_partition_fetch_bytes=1024 * 1024, max_poll_records=500),
    "fetch_min 64 KiB, wait 100 ms": dict(fetch_min_bytes=64 * 1024, fetch_max_wait_ms=100),
    "4 MiB per partition, 2000 records": dict(max_partition_fetch_bytes=4 * 1024 * 1024, max_poll_records=2000),
    "the services' settings": {},
}


def best_of(runs: int, measure) -> int:
    """The best of a few runs: the machine is shared, and the slow runs measure the neighbours."""
    return max(measure() for _ in range(runs))


def test_kafka_client_settings(infra):
    payloads = [(e.subject.encode(), encode(e)) for e in events(MESSAGES, "p")]
    produce(infra.bootstrap, new_topic(infra.bootstrap), payloads)  # warm up the broker and this process
    small = payloads[: max(1, MESSAGES // 20)]
    produced = {"waiting for each message (1/20 of the messages)": produce(
        infra.bootstrap, new_topic(infra.bootstrap), small, wait_each=True)}
    for name, settings in {**PRODUCER_VARIANTS, "the services' settings": {}}.items():
        produced[name] = best_of(2, lambda s=settings: produce(infra.bootstrap, new_topic(infra.bootstrap),
                                                                payloads, **s))
    source = new_topic(infra.bootstrap)
    produce(infra.bootstrap, source, payloads)
    consume(infra.bootstrap, source, len(payloads))  # warm up: the log is in the page cache from here on
    consumed = {name: best_of(2, lambda s=settings: consume(infra.bootstrap, source, len(payloads), **s))
                for name, settings in CONSUMER_VARIANTS.items()}
    record("messaging_clients", {
        "messages": MESSAGES, "message_bytes": len(payloads[0][1]),
        "services_producer": {k: v for k, v in kafka.PRODUCER_SETTINGS.items() if k != "acks"},
        "services_consumer": {k: v for k, v in kafka.CONSUMER_SETTINGS.items() if "fetch" in k or "poll" in k},
        "produce_msgs_per_s": produced, "consume_msgs_per_s": consumed})


def test_outbox_relay(scratch_db, infra):  # noqa: F811
    figures = {}
    for batch_size in (100, 2000):
        topic = new_topic(infra.bootstrap)
        queued = events(MESSAGES, f"r{batch_size}")
        with scratch_db.transaction() as session:
            for start in range(0, len(queued), 5000):
                outbox.add_many(session, queued[start:start + 5000], topic=topic)
        ids = [uuid.UUID(e.id) for e in queued]
        relay = OutboxRelay(scratch_db, lambda: kafka.producer(infra.bootstrap, "bench-relay"),
                            service=f"bench-{uuid.uuid4()}", batch_size=batch_size, idle_wait=0.2)

        def sent(ids=ids) -> int:
            with scratch_db.reading() as connection:
                return connection.execute(sa.select(sa.func.count()).select_from(outbox_table).where(
                    outbox_table.c.event_id.in_(ids), outbox_table.c.status == "sent")).scalar_one()

        started = time.perf_counter()
        with Running(relay):
            wait_for(lambda ids=ids: sent() == len(ids), timeout=300, interval=0.1, what="the relay to drain")
        figures[f"relay rows/s, {batch_size} rows a round"] = round(len(ids) / (time.perf_counter() - started))
    record("messaging_relay", {"messages": MESSAGES, **figures})


def test_consumer_loop_per_event_and_batch_handlers(scratch_db, infra):  # noqa: F811
    def credit(session, event):
        data = event.load_data()
        session.execute(credits.insert().values(event_id=event.id, member_id=data["member_id"], points=10))

    def credit_all(session, batch):
        session.execute(credits.insert(), [{"event_id": e.id, "member_id": e.subject, "points": 10} for e in batch])

    figures = {}
    for name, handler in (("per-event handler", credit), ("batch handler", Batched(credit_all))):
        topic = new_topic(infra.bootstrap)
        prefix = f"c{uuid.uuid4().hex[:6]}"
        payloads = [(e.subject.encode(), encode(e)) for e in events(MESSAGES, prefix)]
        produce(infra.bootstrap, topic, payloads)
        group = f"bench-{uuid.uuid4().hex[:8]}"
        kafka.ensure_topics(infra.bootstrap, (TopicSpec(dead_letter_topic(topic, group), partitions=1),))
        loop = ConsumerLoop(name=group, topics=[topic], handlers={"points.earned": handler}, database=scratch_db,
                            consumer_factory=lambda g=group: kafka.consumer(infra.bootstrap, g, g),
                            producer_factory=lambda: kafka.producer(infra.bootstrap, "bench-dlq"))

        def applied(prefix=prefix) -> int:
            with scratch_db.reading() as connection:
                return connection.execute(sa.select(sa.func.count()).select_from(credits)
                                          .where(credits.c.member_id.like(f"{prefix}-%"))).scalar_one()

        with Running(loop):  # timed from the first event applied, so joining the group is not counted
            first = wait_for(applied, timeout=120, interval=0.01, what=f"{name}: the first event")
            started = time.perf_counter()
            wait_for(lambda: applied() == MESSAGES, timeout=600, interval=0.2, what=f"{name}: every event")
        figures[f"{name}: events/s"] = round((MESSAGES - first) / (time.perf_counter() - started))
    record("messaging_consumer_loop", {"messages": MESSAGES, **figures})
