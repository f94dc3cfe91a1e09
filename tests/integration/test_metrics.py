"""The figures behind the on-call dashboard, against the real broker and database."""
import uuid

import pytest
from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from rewards_shared import kafka, metrics
from rewards_shared.topics import TopicSpec


def test_consumer_lag_and_dead_letters_are_read_from_the_broker(infra):
    topic, letters = f"test.lag.{uuid.uuid4().hex[:8]}", f"test.lag.{uuid.uuid4().hex[:8]}.dlq"
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(infra.bootstrap, (TopicSpec(topic, partitions=2), TopicSpec(letters, partitions=1)))
    producer = kafka.producer(infra.bootstrap, "lag-test")
    for _ in range(5):
        producer.send(topic, value=b"x", partition=0)
    producer.send(topic, value=b"x", partition=1)
    for _ in range(2):
        producer.send(letters, value=b"poison")
    producer.flush()
    producer.close()
    consumer = kafka.consumer(infra.bootstrap, group, "lag-test")
    consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1)})
    consumer.close(autocommit=False)

    probe = kafka.LagProbe(infra.bootstrap, group, [topic], [letters], "lag-test")
    try:
        lag, depth = probe.measure()
    finally:
        probe.close()
    assert lag == {TopicPartition(topic, 0): 3, TopicPartition(topic, 1): 1}, "partition 1: nothing committed yet"
    assert depth == {letters: 2}


@pytest.mark.parametrize("commits", [True, False])
def test_a_count_made_in_a_transaction_counts_only_if_it_commits(scratch_db, commits):
    counter = metrics.REDEMPTIONS_FINISHED.labels(f"test-{uuid.uuid4().hex[:6]}")

    class Abandon(Exception):
        pass

    try:
        with scratch_db.transaction() as session:
            metrics.count_on_commit(session, counter)
            metrics.count_on_commit(session, counter, 2)
            assert counter._value.get() == 0, "not before the commit"
            if not commits:
                raise Abandon
    except Abandon:
        pass
    assert counter._value.get() == (3 if commits else 0)
    with scratch_db.transaction() as session:
        pass
    assert counter._value.get() == (3 if commits else 0), "nothing left over for the next transaction"
