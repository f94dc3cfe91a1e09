"""Dead-letter topics read and replayed by hand (`rewards dlq list/replay`).

A message lands on `<topic>.<group>.dlq` with headers naming its source; once whatever made it fail is
put right, replaying sends it back to that source topic, all of them or one picked by offset or event id.
The consumers deduplicate by event id, so a message replayed twice is still applied once.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from kafka import TopicPartition

from . import kafka

READ_TIMEOUT = 30.0


class DeadLetterError(Exception):
    """The topic cannot be read as asked (missing, or not read to its end in time)."""


@dataclass(frozen=True)
class Selection:
    """Which dead-lettered messages: all, the one at `offset` (of `partition`), or those of `event_id`."""
    offset: int | None = None
    partition: int = 0
    event_id: str | None = None

    def matches(self, record) -> bool:
        if self.offset is not None and (record.offset, record.partition) != (self.offset, self.partition):
            return False
        return self.event_id is None or event_id_of(record.value) == self.event_id

    @property
    def filtered(self) -> bool:
        return self.offset is not None or self.event_id is not None


def event_id_of(value: bytes | None) -> str | None:
    """The envelope's `id`, or None for a message that is not a JSON object with one."""
    try:
        envelope = json.loads(value or b"")
    except ValueError:
        return None
    found = envelope.get("id") if isinstance(envelope, dict) else None
    return found if isinstance(found, str) else None


def read(bootstrap: str, topic: str, selection: Selection = Selection(), *, limit: int | None = None,
         timeout: float = READ_TIMEOUT) -> list:
    """The selected records, oldest first, read up to the topic's end as it stands now."""
    return list(_scan(bootstrap, topic, selection, limit, timeout))


def _scan(bootstrap: str, topic: str, selection: Selection, limit: int | None, timeout: float) -> Iterator:
    consumer = kafka.consumer(bootstrap, None, "rewards-cli")
    try:
        known = consumer.partitions_for_topic(topic)
        if not known:
            raise DeadLetterError(f"no such topic {topic}")
        if selection.offset is not None and selection.partition not in known:
            raise DeadLetterError(f"{topic} has no partition {selection.partition}")
        partitions = [TopicPartition(topic, p) for p in sorted(known)
                      if selection.offset is None or p == selection.partition]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        for partition in partitions:
            if selection.offset is None:
                consumer.seek_to_beginning(partition)
            else:
                consumer.seek(partition, min(selection.offset, ends[partition]))
        found = 0
        deadline = time.monotonic() + timeout
        while any(consumer.position(p) < ends[p] for p in partitions):
            if time.monotonic() > deadline:
                raise DeadLetterError(f"could not read {topic} to its end within {timeout:.0f} s")
            for batch in consumer.poll(timeout_ms=200).values():
                for record in batch:
                    if record.offset >= ends[TopicPartition(record.topic, record.partition)]:
                        continue
                    if selection.matches(record):
                        yield record
                        found += 1
                        if (limit is not None and found >= limit) or selection.offset is not None:
                            return
    finally:
        consumer.close()


def replay(bootstrap: str, topic: str, selection: Selection = Selection(), *, limit: int | None = None) -> int:
    """Publish the selected messages back to their source topics, with their key; how many."""
    records = [r for r in read(bootstrap, topic, selection, limit=limit) if _source(r)]
    if not records:
        return 0
    producer = kafka.producer(bootstrap, "rewards-cli")
    try:
        for record in records:
            producer.send(_source(record), key=record.key, value=record.value, headers=[
                ("replayed_from", topic.encode()), ("replayed_offset", str(record.offset).encode())]
            ).get(timeout=30)
    finally:
        producer.close()
    return len(records)


def _source(record) -> str:
    return dict(record.headers or []).get("source_topic", b"").decode()
