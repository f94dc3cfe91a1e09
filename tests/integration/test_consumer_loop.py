import json
import secrets
import uuid

import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy.exc import OperationalError

from rewards_shared import kafka, outbox
from rewards_shared.consumer import Backoff, Batched, ConsumerLoop
from rewards_shared.db import outbox as outbox_table
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


def committed_offsets(bootstrap, group, topic):
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic)]
        return {p.partition: reader.committed(p) for p in partitions}, \
            {p.partition: offset for p, offset in reader.end_offsets(partitions).items()}
    finally:
        reader.close(autocommit=False)


def test_a_batch_handler_gets_the_events_of_a_poll_together_in_order(scratch_db, infra, topic, send, member_id):
    calls = []

    def credit_all(session, events):
        calls.append([event.load_data()["points"] for event in events])
        for event in events:
            credit(session, event)

    events = [earned(member_id, n) for n in range(1, 41)]
    for event in events:
        send(topic, encode(event), key=member_id.encode())
    loop = make_loop(scratch_db, infra, topic, handlers={"points.earned": Batched(credit_all)})
    with Running(loop):
        wait_for(lambda: len(credited(scratch_db, member_id)) == 40, what="every credit")
    assert sorted(credited(scratch_db, member_id)) == list(range(1, 41))
    assert [points for call in calls for points in call] == list(range(1, 41)), "each once, in offset order"
    assert max(map(len, calls)) > 1, f"the events came one call each: {calls}"


def test_a_poison_event_inside_a_batch_is_dead_lettered_and_the_rest_applied_exactly_once(
        scratch_db, infra, topic, send, member_id):
    calls = []

    def credit_all(session, events):
        calls.append(len(events))
        for event in events:
            if event.load_data()["points"] == 13:
                raise RuntimeError("unlucky thirteen")
            credit(session, event)

    group = f"g-{uuid.uuid4().hex[:8]}"
    events = [earned(member_id, n) for n in range(1, 31)]
    poison = events[12]
    for n, event in enumerate(events, start=1):
        send(topic, encode(event), key=member_id.encode())
        if n == 20:
            send(topic, b"{not json", key=member_id.encode())
        if n == 25:
            send(topic, encode(events[0]), key=member_id.encode())  # a redelivery inside the batch
    loop = make_loop(scratch_db, infra, topic, handlers={"points.earned": Batched(credit_all)}, group=group)
    with Running(loop):
        wait_for(lambda: len(credited(scratch_db, member_id)) == 29, what="every good event")
        dead = wait_for(lambda: (found := read_to_end(infra.bootstrap, dead_letter_topic(topic, group)))
                        and len(found) == 2 and found, what="both poison messages on the dead-letter topic")
        wait_for(lambda: (lambda c, e: c[0] is not None and c[0] >= e[0])(
            *committed_offsets(infra.bootstrap, group, topic)), what="offsets committed to the end")
    assert sorted(credited(scratch_db, member_id)) == [n for n in range(1, 31) if n != 13]
    assert max(calls) > 1, "the batch was tried as a batch first"
    assert sorted(d.value for d in dead) == sorted([encode(poison), b"{not json"])
    headers = {record.value: {k: v.decode() for k, v in record.headers} for record in dead}
    assert headers[encode(poison)]["attempts"] == "3" and "unlucky thirteen" in headers[encode(poison)]["error"]
    assert headers[b"{not json"]["error_type"] == "InvalidEvent"


def test_per_event_and_batch_handlers_share_a_poll_and_each_key_keeps_its_order(
        scratch_db, infra, topic, send, member_id):
    seen = []

    def credit_all(session, events):
        for event in events:
            seen.append(("earned", event.subject, event.load_data()["points"]))
            credit(session, event)

    def adjust(session, event):
        data = event.load_data()
        seen.append(("adjusted", event.subject, data["points"]))
        session.execute(credits.insert().values(event_id=event.id, member_id=data["member_id"],
                                                points=data["points"]))

    members = [f"{member_id}-{n}" for n in range(3)]
    for step in range(4):
        for member in members:
            kind = "points.adjusted" if step % 2 else "points.earned"
            event = Event.create(kind, "test", member, {"member_id": member, "points": step + 1})
            send(topic, encode(event), key=member.encode())
    loop = make_loop(scratch_db, infra, topic,
                     handlers={"points.earned": Batched(credit_all), "points.adjusted": adjust})
    with Running(loop):
        wait_for(lambda: all(len(credited(scratch_db, m)) == 4 for m in members), what="every member's events")
    for member in members:
        assert [points for _, who, points in seen if who == member] == [1, 2, 3, 4]


def test_what_a_handler_writes_to_the_outbox_continues_the_trace_of_its_event(
        scratch_db, infra, topic, member_id):
    def announce_all(session, events):
        for event in events:
            data = event.load_data()
            outbox.add(session, earned(f"{data['member_id']}-echo", data["points"]), topic="test.never-published",
                       caused_by=event)

    def announce(session, event):
        data = event.load_data()
        outbox.add(session, earned(f"{data['member_id']}-echo", data["points"]), topic="test.never-published")

    traces = {}
    producer = KafkaProducer(bootstrap_servers=infra.bootstrap)
    for n, kind in enumerate(["points.earned", "points.earned", "points.adjusted", "points.earned"]):
        member = f"{member_id}-{n}"
        traces[f"{member}-echo"] = secrets.token_hex(16)
        event = Event.create(kind, "test", member, {"member_id": member, "points": n})
        producer.send(topic, key=member.encode(), value=encode(event),
                      headers=[("traceparent", f"00-{traces[f'{member}-echo']}-{secrets.token_hex(8)}-01".encode())])
    producer.flush()
    producer.close()
    loop = make_loop(scratch_db, infra, topic, handlers={"points.earned": Batched(announce_all),
                                                         "points.adjusted": announce})

    def written():
        with scratch_db.transaction() as session:
            return dict(session.execute(sa.select(outbox_table.c.key, outbox_table.c.headers)
                                        .where(outbox_table.c.key.in_(list(traces)))).all())

    with Running(loop):
        rows = wait_for(lambda: (found := written()) and len(found) == 4 and found, what="the four announcements")
    with scratch_db.transaction() as session:
        session.execute(outbox_table.delete().where(outbox_table.c.key.in_(list(traces))))
    assert {key: headers["traceparent"].split("-")[1] for key, headers in rows.items()} == traces
