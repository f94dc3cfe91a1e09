"""Poison on every topic each service's worker consumes, against the real workers: a message that is not an
envelope, a valid envelope whose data breaks its type's schema, and a type nobody knows. The first two go to
the consumer's dead-letter topic; an unknown type is skipped; either way the consumer carries on. Then
`rewards dlq replay`, picking one message, puts it back through once whatever caused it is put right."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from rewards_shared import worker
from rewards_shared.events import Event, encode
from rewards_shared.service import discover
from rewards_shared.topics import CREDENTIALS, REDEMPTION_EVENTS, TOPICS, dead_letter_topic, topic_for
from tests.integration.conftest import read_to_end
from tests.support.polling import wait_for

NOT_JSON = b"\x00{not json"


@pytest.fixture(scope="module")
def consumers(services, settings_for) -> dict[str, tuple[str, dict[str, set[str]]]]:
    """Per service, as its worker runs it: its consumer group and, per topic, the event types it handles."""
    found = {}
    for name, info in discover().items():
        composition = importlib.import_module(f"{info.package}.bootstrap")
        runtime = composition.bootstrap(settings_for(name))
        loop, _ = worker.build(composition.worker_spec(runtime), runtime.settings, runtime.database)
        found[name] = (loop.name, {topic: {t for t in loop.handlers if _topic(t) == topic} for topic in loop.topics})
        runtime.database.dispose()
    return found


def _topic(event_type: str) -> str | None:
    try:
        return topic_for(event_type)
    except KeyError:
        return None


@pytest.fixture(scope="module")
def producer(infra):
    producer = KafkaProducer(bootstrap_servers=infra.bootstrap, acks="all")
    yield lambda topic, key, value: producer.send(topic, key=key.encode(), value=value).get(timeout=30)
    producer.close()


def committed(bootstrap: str, group: str, partition: TopicPartition) -> int:
    """The group's committed offset on the partition (-1 for none), read without joining the group."""
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        found = reader.committed(partition)
        return -1 if found is None else found
    finally:
        reader.close(autocommit=False)


def wait_past(bootstrap: str, group: str, record, what: str) -> None:
    """Until the group has committed an offset beyond `record`: it settled it and everything before it."""
    partition = TopicPartition(record.topic, record.partition)
    wait_for(lambda: committed(bootstrap, group, partition) > record.offset, timeout=60, what=what)


def dead_lettered(bootstrap: str, topic: str, group: str, key: str) -> list:
    return [r for r in read_to_end(bootstrap, dead_letter_topic(topic, group)) if r.key == key.encode()]


def test_every_consumer_dead_letters_poison_skips_unknown_types_and_carries_on(consumers, infra, producer):
    topics = sorted({topic for _, handled in consumers.values() for topic in handled})
    assert CREDENTIALS in topics and topics == sorted(spec.name for spec in TOPICS)  # every topic has a consumer
    sent: dict[str, dict] = {}
    for topic in topics:
        key = f"poison-{uuid.uuid4().hex[:10]}"
        handled_here = sorted({t for _, handled in consumers.values() for t in handled.get(topic, ())})
        bad_envelope = json.dumps({"specversion": "1.0", "id": "not-a-uuid", "type": handled_here[0],
                                   "data": {}}).encode()
        bad_data = {t: encode(Event(type=t, source="tests", subject=key, data={"member_id": 42, "jti": 7}))
                    for t in handled_here}
        unknown = encode(Event(type="poison.unknown_type", source="tests", subject=key, data={"member_id": key}))
        producer(topic, key, NOT_JSON)
        producer(topic, key, bad_envelope)
        for value in bad_data.values():
            producer(topic, key, value)
        last = producer(topic, key, unknown)
        sent[topic] = {"key": key, "malformed": [NOT_JSON, bad_envelope], "bad_data": bad_data, "last": last}

    for service, (group, handled) in consumers.items():
        for topic, types in handled.items():
            batch = sent[topic]
            wait_past(infra.bootstrap, group, batch["last"], f"{service} to commit past the poison on {topic}")
            expected = batch["malformed"] + [value for t, value in batch["bad_data"].items() if t in types]
            dead = dead_lettered(infra.bootstrap, topic, group, batch["key"])
            # A poll that holds them all dead-letters the undecodable ones after the rest, one poll per message
            # in offset order: which happens depends on timing, so only what is dead-lettered is compared.
            assert sorted(r.value for r in dead) == sorted(expected), f"{service} on {topic}"
            for record in dead:
                headers = {k: v.decode() for k, v in record.headers}
                assert headers["error_type"] == "InvalidEvent" and headers["attempts"] == "1", headers
                assert (headers["source_topic"], headers["consumer"]) == (topic, group)


def rewards_cli(stack_env, *args: str) -> subprocess.CompletedProcess:
    command = [os.path.join(os.path.dirname(sys.executable), "rewards"), *args]
    return subprocess.run(command, env={**os.environ, **stack_env}, capture_output=True, text=True, timeout=120)


def redemption_event(kind: str, member_id: str, redemption_id: str) -> Event:
    return Event.create(f"redemption.{kind}", "redemption", member_id, {
        "member_id": member_id, "redemption_id": redemption_id, "reward_id": "coffee", "cost_points": 30})


def test_a_replay_picked_by_event_id_or_offset_puts_one_fixed_message_back_through_once(
        client, databases, infra, producer, stack_env, member_id):
    points = client("points")
    assert points.post("/v1/members", json={"member_id": member_id}).status_code in (200, 201)
    finance = client("points", "finance")
    assert finance.post("/v1/adjustments", headers={"Idempotency-Key": f"replay-{member_id}"}, json={
        "member_id": member_id, "points": 100, "reason": "replay test"}).status_code == 201
    dlq = dead_letter_topic(REDEMPTION_EVENTS, "points")

    # The till's completion overtakes the request: the ledger has no hold to capture, so it is dead-lettered,
    # and so is a second one that will never have a hold.
    first, stray = str(uuid.uuid4()), str(uuid.uuid4())
    completed = redemption_event("completed", member_id, first)
    producer(REDEMPTION_EVENTS, member_id, encode(completed))
    producer(REDEMPTION_EVENTS, member_id, encode(redemption_event("completed", member_id, stray)))
    parked = wait_for(lambda: len(found := dead_lettered(infra.bootstrap, REDEMPTION_EVENTS, "points", member_id))
                      == 2 and found, timeout=60, what="both completions on the ledger's dead-letter topic")
    assert "without a hold" in dict(parked[0].headers)["error"].decode()

    listed = rewards_cli(stack_env, "dlq", "list", dlq, "--event-id", completed.id)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["offset"] for line in listed.stdout.splitlines()] == [parked[0].offset]
    assert "1 message" in listed.stderr

    # Put right: the request arrives and the ledger holds the points.
    producer(REDEMPTION_EVENTS, member_id, encode(redemption_event("requested", member_id, first)))
    wait_for(lambda: points.get(f"/v1/members/{member_id}/balance").json()["held"] == 30, what="the hold")

    replayed = rewards_cli(stack_env, "dlq", "replay", dlq, "--event-id", completed.id)
    assert replayed.returncode == 0 and replayed.stdout.strip() == "replayed 1 message", replayed.stderr
    wait_for(lambda: (b := points.get(f"/v1/members/{member_id}/balance").json())["held"] == 0
             and b["available"] == 70, what="the replayed completion to capture the hold")

    again = rewards_cli(stack_env, "dlq", "replay", dlq, "--offset", str(parked[0].offset))
    assert again.returncode == 0 and again.stdout.strip() == "replayed 1 message", again.stderr
    copies = wait_for(lambda: len(found := [r for r in read_to_end(infra.bootstrap, REDEMPTION_EVENTS)
                                            if completed.id.encode() in r.value]) == 3 and found,
                      what="the original and its two replays on the topic")
    assert dict(copies[1].headers)["replayed_from"] == dlq.encode()
    wait_past(infra.bootstrap, "points", copies[2], "the ledger to read past the second replay")
    with databases("points").transaction() as session:
        captures = session.execute(sa.text(
            "SELECT count(*) FROM transfers WHERE code = 'capture' AND source_id = :id"), {"id": first}).scalar()
    assert captures == 1
    assert points.get(f"/v1/members/{member_id}/balance").json()["available"] == 70
    assert [r.value for r in dead_lettered(infra.bootstrap, REDEMPTION_EVENTS, "points", member_id)] == \
        [r.value for r in parked], "the stray completion was not replayed, and the fixed one did not fail again"


def test_an_empty_dead_letter_topic_says_so_and_a_missing_one_is_an_error(stack_env, infra):
    from rewards_shared import kafka
    from rewards_shared.topics import TopicSpec

    empty = f"test.{uuid.uuid4().hex[:8]}.nobody.dlq"
    kafka.ensure_topics(infra.bootstrap, (TopicSpec(empty, partitions=1),))
    listed = rewards_cli(stack_env, "dlq", "list", empty)
    assert listed.returncode == 0 and listed.stdout.strip() == "0 messages", listed.stderr
    nothing = rewards_cli(stack_env, "dlq", "replay", empty, "--offset", "0")
    assert nothing.returncode == 1 and "no message" in nothing.stderr
    missing = rewards_cli(stack_env, "dlq", "list", f"no.such.{uuid.uuid4().hex[:6]}.dlq")
    assert missing.returncode == 1 and "no such topic" in missing.stderr
