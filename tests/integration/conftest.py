from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer, TopicPartition

from rewards_shared import kafka
from rewards_shared.db import Database, create_outbox_trigger, drop_database, ensure_database, infrastructure
from rewards_shared.topics import TopicSpec

scratch = sa.MetaData()
credits = sa.Table(
    "credits", scratch,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("member_id", sa.Text, nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
)


class _Op:
    """Just enough of Alembic's `op` to install the outbox trigger outside a migration."""

    def __init__(self, connection):
        self.connection = connection

    def execute(self, sql: str) -> None:
        self.connection.execute(sa.text(sql))


@pytest.fixture(scope="session")
def scratch_db(infra) -> Database:
    """A database of its own with the shared tables, so these tests never meet a service's relay."""
    url = sa.engine.make_url(infra.server_url).set(database="test_shared_plumbing").render_as_string(False)
    drop_database(url)
    ensure_database(url)
    database = Database(url)
    with database.engine.begin() as connection:
        infrastructure.create_all(connection)
        scratch.create_all(connection)
        create_outbox_trigger(_Op(connection))
    yield database
    database.dispose()


@pytest.fixture
def topic(infra) -> str:
    name = f"test.{uuid.uuid4().hex[:10]}"
    kafka.ensure_topics(infra.bootstrap, (TopicSpec(name, partitions=1),))
    return name


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 20.0):
    """Every record on the topic's partitions from the beginning, once `expected` have arrived."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             isolation_level="read_committed")
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or {0}]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records = []
    deadline = time.monotonic() + timeout
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
    consumer.close()
    return records


def read_to_end(bootstrap: str, topic: str, timeout: float = 20.0):
    """Every record on the topic up to its end as it stands now: complete when it returns, so a
    caller can assert that something is absent without waiting for it not to arrive."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             isolation_level="read_committed")
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert partitions, f"topic {topic} does not exist"
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(p) < ends[p] for p in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end within {timeout}s"
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


class Running:
    """Runs something with a `run(stop)` method in a thread for the length of a `with` block."""

    def __init__(self, runnable):
        self.runnable = runnable
        self.stop = threading.Event()
        self.thread = threading.Thread(target=runnable.run, args=(self.stop,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.runnable

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)
