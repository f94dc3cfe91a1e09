"""The one place Kafka clients are configured, so every service talks to the broker the same way."""
from __future__ import annotations

import logging
import os
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from .topics import TOPICS, TopicSpec

log = logging.getLogger(__name__)

REPLICATION_FACTOR = int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1"))

PRODUCER_SETTINGS = dict(
    acks="all",
    enable_idempotence=True,
    linger_ms=5,
    batch_size=256 * 1024,
    compression_type=None,
    max_in_flight_requests_per_connection=5,
    request_timeout_ms=15000,
)

CONSUMER_SETTINGS = dict(
    enable_auto_commit=False,
    auto_offset_reset="earliest",
    isolation_level="read_committed",
    max_poll_records=500,
    session_timeout_ms=15000,
    heartbeat_interval_ms=3000,
    metadata_max_age_ms=10000,
)


def producer(bootstrap: str, client_id: str, **overrides) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id,
                         **{**PRODUCER_SETTINGS, **overrides})


def consumer(bootstrap: str, group: str, client_id: str, **overrides) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=client_id,
                         **{**CONSUMER_SETTINGS, **overrides})


def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = TOPICS) -> list[str]:
    """Create the topics that are missing; returns the names it created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="rewards-admin")
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created = []
        for spec in missing:
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, REPLICATION_FACTOR,
                                              topic_configs=dict(spec.config))])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        _wait_for_leaders(admin, [spec for spec in missing if spec.name in created])
        return created
    finally:
        admin.close()


def _wait_for_leaders(admin: KafkaAdminClient, specs: list[TopicSpec], timeout: float = 15.0) -> list[str]:
    """Return once every partition of the topics has a leader; the names still waiting at the timeout."""
    deadline = time.monotonic() + timeout
    wanted = {spec.name: spec.partitions for spec in specs}
    while wanted and time.monotonic() < deadline:
        for topic in admin.describe_topics(list(wanted)):
            partitions = topic.get("partitions") or []
            if topic["error_code"] == 0 and partitions and len(partitions) >= (wanted.get(topic["name"]) or 1) \
                    and all(p["leader_id"] >= 0 for p in partitions):
                wanted.pop(topic["name"], None)
        if wanted:
            time.sleep(0.2)
    if wanted:
        log.warning("topics still without leaders", extra={"topics": sorted(wanted)})
    return sorted(wanted)


def wait_for_topics(bootstrap: str, names: list[str], timeout: float = 60.0) -> list[str]:
    """Wait until the topics are served (a restarted broker takes a moment to elect their leaders),
    so a consumer joining its group sees every partition; returns those still not ready."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="rewards-admin")
    try:
        return _wait_for_leaders(admin, [TopicSpec(name, partitions=0) for name in names], timeout)
    finally:
        admin.close()
