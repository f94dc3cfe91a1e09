import json
import uuid

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer
from sqlalchemy.exc import OperationalError

from rewards_shared import kafka
from rewards_shared.consumer import Backoff, ConsumerLoop
from rewards_shared.events import Event, encode
from rewards_shared.topics import TopicSpec, dead_letter_topic
from tests.integration.conftest import Running, credits, read_to_end, read_topic
from tests.support.polling import wait_for


def credit(session, event):
    data = event.load_data()
    session.execute(credits.insert().values(event_id=event.id, member_id=data["member_id"], points=data["points"]))


def make_loop(database, infra, topic, handlers=None, group=None, kafka_group=None):
    group = group or f"g-{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(infra.bootstrap, (TopicSpec(dead_letter_topic(topic, group), partitions=1),))
    return ConsumerLoop(
        name=group, topics=[topic], handlers=handlers or {"points.earned": credit}, database=database,
        consumer_factory=lambda: kafka.consumer(infra.bootstrap, kafka_group or group, group),
        producer_factory=lambda: kafka.producer(infra.bootstrap, group + "-dlq"),
        max_attempts=3, backoff=Backoff(initial=0.01, maximum=0.05), poll_timeout_ms=100)


def credited(database, member_id):
    with database.transaction() as session:
        return session.execute(sa.select(credits.c.points).where(credits.c.member_id == member_id)).scalars().all()


@pytest.fixture
def send(infra):
    producer = KafkaProducer(bootstrap_servers=infra.bootstrap)
    yield lambda topic, value, key=b"k": producer.send(topic, key=key, value=value).get(timeout=10)
    producer.close()


def earned(member_id, points):
    return Event.create("points.earned", "test", member_id, {"member_id": member_id, "points": points})


def test_an_event_delivered_twice_is_applied_once(scratch_db, infra, topic, send, member_id):
    event = earned(member_id, 10)
    send(topic, encode(event))
    send(topic, encode(event))
    marker = earned(member_id, 1)
    send(topic, encode(marker))
    with Running(make_loop(scratch_db, infra, topic)):
        wait_for(lambda: 1 in credited(scratch_db, member_id), what="the marker event")
    assert sorted(credited(scratch_db, member_id)) == [1, 10]


def test_redelivery_to_a_new_consumer_instance_is_skipped(scratch_db, infra, topic, send, member_id):
    group = f"g-{uuid.uuid4().hex[:8]}"
    send(topic, encode(earned(member_id, 7)))
    with Running(make_loop(scratch_db, infra, topic, group=group)):
        wait_for(lambda: credited(scratch_db, member_id), what="the credit")
    replaying = make_loop(scratch_db, infra, topic, group=group, kafka_group=group + "-from-the-start")
    with Running(replaying) as loop:
        wait_for(loop.ready.is_set, what="the fresh consumer")
        send(topic, encode(earned(member_id, 3)))
        wait_for(lambda: 3 in credited(scratch_db, member_id), what="the later event")
    assert sorted(credited(scratch_db, member_id)) == [3, 7]


def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_consumer_carries_on(
        scratch_db, infra, topic, send, member_id):
    loop = make_loop(scratch_db, infra, topic)
    poison = send(topic, b"{not json", key=member_id.encode())
    send(topic, encode(earned(member_id, 4)))
    with Running(loop):
        wait_for(lambda: credited(scratch_db, member_id), what="the good event after the poison")
        dead = read_topic(infra.bootstrap, dead_letter_topic(topic, loop.name), expected=1)
    assert len(dead) == 1 and dead[0].value == b"{not json"
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["source_topic"] == topic
    assert headers["source_partition"] == str(poison.partition)
    assert headers["source_offset"] == str(poison.offset)
    assert headers["error_type"] == "InvalidEvent"
    assert headers["attempts"] == "1"


def test_a_handler_that_always_fails_is_dead_lettered_after_its_attempts(scratch_db, infra, topic, send, member_id):
    def broken(session, event):
        if event.load_data()["points"] == 13:
            raise RuntimeError("unlucky")
        credit(session, event)

    loop = make_loop(scratch_db, infra, topic, handlers={"points.earned": broken})
    bad = earned(member_id, 13)
    send(topic, encode(bad))
    send(topic, encode(earned(member_id, 2)))
    with Running(loop):
        wait_for(lambda: credited(scratch_db, member_id), what="the event after the failing one")
        dead = read_topic(infra.bootstrap, dead_letter_topic(topic, loop.name), expected=1)
    assert json.loads(dead[0].value)["id"] == bad.id
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["attempts"] == "3" and "unlucky" in headers["error"]
    assert credited(scratch_db, member_id) == [2]


def test_transient_failures_are_retried_without_dead_lettering(scratch_db, infra, topic, send, member_id):
    failures = {"left": 5}

    def flaky(session, event):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
        credit(session, event)

    loop = make_loop(scratch_db, infra, topic, handlers={"points.earned": flaky})
    send(topic, encode(earned(member_id, 8)))
    with Running(loop):
        wait_for(lambda: credited(scratch_db, member_id), what="the retried event")
    assert credited(scratch_db, member_id) == [8]
    assert read_to_end(infra.bootstrap, dead_letter_topic(topic, loop.name)) == []


def test_a_consumer_started_before_its_topic_exists_is_assigned_it_once_it_is_created(
        scratch_db, infra, send, member_id):
    topic = f"test.late.{uuid.uuid4().hex[:10]}"
    loop = make_loop(scratch_db, infra, topic)
    with Running(loop):
        wait_for(lambda: loop.waiting_for == {topic}, what="the consumer to wait for the missing topic")
        assert not loop.ready.is_set()
        kafka.ensure_topics(infra.bootstrap, (TopicSpec(topic, partitions=3),))
        wait_for(loop.ready.is_set, what="the consumer to join once the topic exists")
        for points in (1, 2, 3):
            send(topic, encode(earned(member_id, points)), key=f"{member_id}-{points}".encode())
        wait_for(lambda: sorted(credited(scratch_db, member_id)) == [1, 2, 3], what="every partition's event")
