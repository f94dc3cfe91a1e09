"""A worker SIGKILLed after its database commit but before its offset commit, then restarted,
sees the event again and leaves exactly one credit."""
import os
import subprocess
import sys
import uuid

import sqlalchemy as sa
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from points.models import Transfer
from rewards_shared.db import outbox, processed_events
from rewards_shared.events import Event, encode
from rewards_shared.topics import TRANSIT_JOURNEYS
from tests.support.polling import wait_for


def committed_offset(bootstrap, group, partition):
    """The group's committed offset, read without joining the group."""
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        found = reader.committed(partition)
    finally:
        reader.close(autocommit=False)
    return -1 if found is None else found


def start_worker(stack_env, stack, **extra):
    with open(stack.logs / "points-worker-crash-test.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "points.worker"],
                                env={**os.environ, **stack_env, **extra}, stdout=log, stderr=subprocess.STDOUT)


def test_kill_between_database_commit_and_offset_commit_leaves_one_credit(stack_env, stack, infra, databases,
                                                                          member_id):
    stack.logs.mkdir(parents=True, exist_ok=True)
    journey_id = f"j-{uuid.uuid4()}"
    event = Event.create("transit.journey.completed", "transit-ingest", member_id, {
        "member_id": member_id, "journey_id": journey_id, "operator_id": "leeds-bus", "kind": "single",
        "mode": "bus", "started_at": "2026-11-20T07:41:12Z"})
    worker = start_worker(stack_env, stack, REWARDS_FAULTS="consumer.after_db_commit[transit.journey.completed]=kill@1")
    producer = KafkaProducer(bootstrap_servers=infra.bootstrap)
    sent = producer.send(TRANSIT_JOURNEYS, key=member_id.encode(), value=encode(event)).get(timeout=10)
    producer.close()
    partition = TopicPartition(TRANSIT_JOURNEYS, sent.partition)

    assert worker.wait(timeout=120) == -9, "the fault point should have killed the worker"
    points = databases("points")

    def credits():
        with points.transaction() as session:
            return session.execute(sa.select(Transfer.amount).where(Transfer.member_id == member_id)).scalars().all()

    assert credits() == [10]
    assert committed_offset(infra.bootstrap, "points", partition) <= sent.offset

    restarted = start_worker(stack_env, stack)
    try:
        wait_for(lambda: committed_offset(infra.bootstrap, "points", partition) > sent.offset, timeout=90,
                 interval=0.5, what="the restarted worker to commit past the event")
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)

    assert credits() == [10]
    with points.transaction() as session:
        seen = session.execute(sa.select(sa.func.count()).select_from(processed_events)
                               .where(processed_events.c.event_id == uuid.UUID(event.id))).scalar()
        announced = session.execute(sa.select(sa.func.count()).select_from(outbox).where(
            outbox.c.key == member_id, outbox.c.event_type == "points.earned")).scalar()
    assert (seen, announced) == (1, 1)
