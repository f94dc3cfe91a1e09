"""The one place Kafka clients are configured, so every service talks to the broker the same way.

TLS and SASL come from the environment (`security_settings`), so a cluster that wants them needs no
code change: with none of the variables set, clients speak plaintext as they always have.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from .topics import TOPICS, TopicSpec

log = logging.getLogger(__name__)

REPLICATION_FACTOR = int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1"))

# Measured in tests/benchmarks/test_messaging.py (events of about 470 bytes, this 2-core machine shared
# with the broker): zstd takes one producer from 5,000–8,600 to about 20,000 msgs/s (lz4 17,500, gzip
# 13,600–15,400), and consumers read the compressed log about three times as fast (12,000–15,000 →
# 38,000–50,000 msgs/s); linger 0 or 20 ms and 1 MiB batches moved nothing beyond the noise. Waiting for
# each message instead of the batch: about 110 msgs/s. Consumers decompress with the same `zstandard`.
PRODUCER_SETTINGS = dict(
    acks="all",
    enable_idempotence=True,
    linger_ms=5,
    batch_size=256 * 1024,
    compression_type="zstd",
    max_in_flight_requests_per_connection=5,
    request_timeout_ms=15000,
)

# The relay must not sit for a minute on one row whose topic the broker does not know: after this long
# the row is refused (and retried later) while the others go on.
RELAY_SETTINGS = dict(max_block_ms=10000)

# Fetch sizes were measured too (fetch_min_bytes 64 KiB with a 100 ms wait, 4 MiB per partition with 2,000
# records a poll): no gain beyond the noise, and a larger fetch_min_bytes would add its wait to every quiet
# event's latency, so kafka-python's fetch defaults stay.
CONSUMER_SETTINGS = dict(
    enable_auto_commit=False,
    auto_offset_reset="earliest",
    isolation_level="read_committed",
    max_poll_records=500,
    session_timeout_ms=15000,
    heartbeat_interval_ms=3000,
    metadata_max_age_ms=10000,
)


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
SASL_VARIABLES = ("KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE")
SSL_VARIABLES = ("KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE", "KAFKA_SSL_CHECK_HOSTNAME")


class KafkaSecurityError(ValueError):
    """The KAFKA_* security variables contradict each other or name a file that is not there."""


def security_settings(env: Mapping[str, str] | None = None) -> dict[str, object]:
    """kafka-python's TLS and SASL options from `KAFKA_SECURITY_PROTOCOL` and the `KAFKA_SASL_*` and
    `KAFKA_SSL_*` variables. A variable the chosen protocol would ignore is an error rather than
    silently unused, so a half-configured client fails at start-up instead of connecting in clear."""
    env = os.environ if env is None else env
    given = {name: value for name, value in env.items() if name.startswith("KAFKA_") and value != ""}
    protocol = given.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise KafkaSecurityError(f"KAFKA_SECURITY_PROTOCOL={protocol}: expected one of {', '.join(SECURITY_PROTOCOLS)}")
    uses_sasl, uses_ssl = protocol.startswith("SASL_"), protocol.endswith("SSL")
    for names, used in ((SASL_VARIABLES, uses_sasl), (SSL_VARIABLES, uses_ssl)):
        stray = [name for name in names if name in given and not used]
        if stray:
            raise KafkaSecurityError(f"{', '.join(stray)} set, but KAFKA_SECURITY_PROTOCOL is {protocol}")
    settings: dict[str, object] = {}
    if protocol != "PLAINTEXT":
        settings["security_protocol"] = protocol
    if uses_sasl:
        mechanism = given.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").upper()
        if mechanism not in SASL_MECHANISMS:
            raise KafkaSecurityError(f"KAFKA_SASL_MECHANISM={mechanism}: expected one of {', '.join(SASL_MECHANISMS)}")
        username = given.get("KAFKA_SASL_USERNAME")
        if not username:
            raise KafkaSecurityError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME")
        settings.update(sasl_mechanism=mechanism, sasl_plain_username=username,
                        sasl_plain_password=_sasl_password(given, protocol))
    if uses_ssl:
        for name, option in (("KAFKA_SSL_CAFILE", "ssl_cafile"), ("KAFKA_SSL_CERTFILE", "ssl_certfile"),
                             ("KAFKA_SSL_KEYFILE", "ssl_keyfile")):
            if name in given:
                settings[option] = _existing_file(name, given[name])
        if "ssl_keyfile" in settings and "ssl_certfile" not in settings:
            raise KafkaSecurityError("KAFKA_SSL_KEYFILE set without KAFKA_SSL_CERTFILE, the certificate it signs for")
        check = given.get("KAFKA_SSL_CHECK_HOSTNAME", "true").lower()
        if check not in ("true", "false", "1", "0"):
            raise KafkaSecurityError(f"KAFKA_SSL_CHECK_HOSTNAME={check}: expected true or false")
        if check in ("false", "0"):
            settings["ssl_check_hostname"] = False
    return settings


def _sasl_password(given: Mapping[str, str], protocol: str) -> str:
    if "KAFKA_SASL_PASSWORD" in given and "KAFKA_SASL_PASSWORD_FILE" in given:
        raise KafkaSecurityError("both KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE set: keep one")
    if "KAFKA_SASL_PASSWORD_FILE" in given:
        path = _existing_file("KAFKA_SASL_PASSWORD_FILE", given["KAFKA_SASL_PASSWORD_FILE"])
        # a file written by `echo` or an editor ends in a newline that is not part of the password
        return Path(path).read_text().rstrip("\r\n")
    if "KAFKA_SASL_PASSWORD" in given:
        return given["KAFKA_SASL_PASSWORD"]
    raise KafkaSecurityError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_PASSWORD "
                             "or KAFKA_SASL_PASSWORD_FILE")


def _existing_file(name: str, path: str) -> str:
    if not Path(path).is_file():
        raise KafkaSecurityError(f"{name}={path}: no such file")
    return path


def producer(bootstrap: str, client_id: str, **overrides) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id,
                         **{**PRODUCER_SETTINGS, **security_settings(), **overrides})


def consumer(bootstrap: str, group: str | None, client_id: str, **overrides) -> KafkaConsumer:
    """A consumer in `group`; with group None, one that assigns itself partitions (reading a DLQ)."""
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=client_id,
                         **{**CONSUMER_SETTINGS, **security_settings(), **overrides})


def admin(bootstrap: str, client_id: str = "rewards-admin", **overrides) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, **{**security_settings(), **overrides})


def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = TOPICS) -> list[str]:
    """Create the topics that are missing; returns the names it created."""
    admin_client = admin(bootstrap)
    try:
        existing = set(admin_client.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created = []
        for spec in missing:
            try:
                admin_client.create_topics([NewTopic(spec.name, spec.partitions, REPLICATION_FACTOR,
                                                     topic_configs=dict(spec.config))])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        _wait_for_leaders(admin_client, [spec for spec in missing if spec.name in created])
        return created
    finally:
        admin_client.close()


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
    admin_client = admin(bootstrap)
    try:
        return _wait_for_leaders(admin_client, [TopicSpec(name, partitions=0) for name in names], timeout)
    finally:
        admin_client.close()


PROBE_TIMEOUT_MS = 10_000  # a broker that is away fails a measurement rather than holding a stopping worker


class LagProbe:
    """How far a consumer group is behind on each partition, and how many messages its dead-letter topics
    hold, read from the broker rather than from the consumer, so the figures keep moving while the
    consumer loop is stuck."""

    def __init__(self, bootstrap: str, group: str, topics: list[str], dead_letter_topics: list[str],
                 client_id: str):
        self.bootstrap, self.group, self.client_id = bootstrap, group, client_id
        self.topics, self.dead_letter_topics = topics, dead_letter_topics
        self._consumer: KafkaConsumer | None = None
        self._admin: KafkaAdminClient | None = None

    def measure(self) -> tuple[dict[TopicPartition, int], dict[str, int]]:
        """(lag per partition of the group's topics, messages per dead-letter topic)."""
        try:
            if self._consumer is None:
                self._consumer = consumer(self.bootstrap, None, self.client_id)
                self._admin = admin(self.bootstrap, self.client_id)
            partitions = self._partitions(self.topics)
            letters = self._partitions(self.dead_letter_topics)
            ends = self._consumer.end_offsets(partitions + letters, timeout_ms=PROBE_TIMEOUT_MS)
            starts = self._consumer.beginning_offsets(partitions + letters, timeout_ms=PROBE_TIMEOUT_MS)
            committed = self._admin.list_group_offsets(self.group).get(self.group, {})
        except Exception:
            self.close()
            raise
        lag = {}
        for partition in partitions:
            done = committed.get(partition)
            position = done.offset if done is not None and done.offset >= 0 else starts[partition]
            lag[partition] = max(0, ends[partition] - position)
        depth = {topic: 0 for topic in self.dead_letter_topics}
        for partition in letters:
            depth[partition.topic] += max(0, ends[partition] - starts[partition])
        return lag, depth

    def _partitions(self, topics: list[str]) -> list[TopicPartition]:
        return [TopicPartition(topic, number) for topic in topics
                for number in sorted(self._consumer.partitions_for_topic(topic) or ())]

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            try:
                if client is not None:
                    client.close()
            except Exception:
                pass
        self._consumer = self._admin = None
