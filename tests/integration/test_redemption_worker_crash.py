"""The redemption worker SIGKILLed at exact moments of the saga, then restarted: each redemption
moves once, its event is written once, and what was published twice is the same event."""
import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer, TopicPartition

from redemption import catalogue, redemptions
from redemption.models import Redemption, Reward
from rewards_shared.db import outbox, processed_events
from rewards_shared.events import Event, encode
from rewards_shared.topics import LEDGER_EVENTS, REDEMPTION_EVENTS
from tests.integration.conftest import read_to_end
from tests.integration.test_worker_crash import committed_offset
from tests.support.polling import wait_for


@pytest.fixture
def db(databases):
    return databases("redemption")


def start_worker(stack_env, stack, **extra):
    stack.logs.mkdir(parents=True, exist_ok=True)
    with open(stack.logs / "redemption-worker-crash-test.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "redemption.worker"],
                                env={**os.environ, **stack_env, **extra}, stdout=log, stderr=subprocess.STDOUT)


def pending_redemption(db, member_id):
    partner_id, reward_id = f"p-{uuid.uuid4().hex[:8]}", f"r-{uuid.uuid4().hex[:8]}"
    with db.transaction() as session:
        catalogue.add_partner(session, id=partner_id, name="Leeds Grand Theatre")
        catalogue.add_reward(session, dict(id=reward_id, partner_id=partner_id, title="Matinee", cost_points=40,
                                           stock=3, funded_by="council", settlement_pence=900))
        return redemptions.request(session, redemption_id=uuid.uuid4(), member_id=member_id,
                                   reward_id=reward_id).id, reward_id


def publish(bootstrap, event):
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    sent = producer.send(LEDGER_EVENTS, key=event.subject.encode(), value=encode(event)).get(timeout=10)
    producer.close()
    return TopicPartition(LEDGER_EVENTS, sent.partition), sent.offset


def saga_events(db, redemption_id):
    with db.transaction() as session:
        rows = session.execute(sa.select(outbox.c.event_type, outbox.c.status).where(
            outbox.c.payload.contains(str(redemption_id).encode())).order_by(outbox.c.id)).all()
    return [tuple(row) for row in rows]


def status_and_stock(db, redemption_id, reward_id):
    with db.transaction() as session:
        return session.get(Redemption, redemption_id).status, session.get(Reward, reward_id).stock


def reply(event_type, member_id, redemption_id, **data):
    return Event.create(event_type, "points", member_id, {"member_id": member_id, "redemption_id": str(redemption_id),
                                                          "points": 40, **data})


def test_killed_between_database_commit_and_offset_commit_each_reply_is_applied_once(
        stack_env, stack, infra, db, member_id):
    refused, refused_reward = pending_redemption(db, member_id)
    granted, granted_reward = pending_redemption(db, member_id)
    rejection = reply("points.hold_rejected", member_id, refused, reason="insufficient_points: 40 needed")
    hold = reply("points.held", member_id, granted, transfer_id="t-1", available=10)
    worker = start_worker(stack_env, stack, REWARDS_FAULTS="consumer.after_db_commit[points.held]=kill@1")
    publish(infra.bootstrap, rejection)
    partition, offset = publish(infra.bootstrap, hold)
    try:
        assert worker.wait(timeout=120) == -9, "the fault point should have killed the worker"
    finally:
        worker.kill()
    expected = {refused: ("rejected", 3), granted: ("issued", 2)}
    rewards = {refused: refused_reward, granted: granted_reward}
    assert {rid: status_and_stock(db, rid, rewards[rid]) for rid in expected} == expected
    assert committed_offset(infra.bootstrap, "redemption", partition) <= offset

    restarted = start_worker(stack_env, stack)
    try:
        wait_for(lambda: committed_offset(infra.bootstrap, "redemption", partition) > offset, timeout=90,
                 interval=0.5, what="the restarted worker to commit past the replies")
        wait_for(lambda: all(status == "sent" for rid in expected for _, status in saga_events(db, rid)),
                 timeout=30, what="the relay to publish the saga's events")
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)

    assert {rid: status_and_stock(db, rid, rewards[rid]) for rid in expected} == expected
    for rid, (status, _) in expected.items():
        assert [kind for kind, _ in saga_events(db, rid)] == ["redemption.requested", f"redemption.{status}"]
    with db.transaction() as session:
        seen = session.execute(sa.select(sa.func.count()).select_from(processed_events).where(
            processed_events.c.consumer == "redemption",
            processed_events.c.event_id.in_([uuid.UUID(rejection.id), uuid.UUID(hold.id)]))).scalar()
    assert seen == 2


def test_killed_after_publishing_but_before_marking_sent_the_relay_republishes_the_same_events(
        stack_env, stack, infra, db, member_id):
    redemption_id, _ = pending_redemption(db, member_id)
    worker = start_worker(stack_env, stack, REWARDS_FAULTS="relay.after_publish=kill@1")
    try:
        assert worker.wait(timeout=120) == -9
    finally:
        worker.kill()
    restarted = start_worker(stack_env, stack)
    try:
        wait_for(lambda: saga_events(db, redemption_id) == [("redemption.requested", "sent")], timeout=60,
                 what="the restarted relay to mark the event sent")
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
    with db.transaction() as session:
        event_id = session.execute(sa.select(outbox.c.event_id).where(
            outbox.c.payload.contains(str(redemption_id).encode()))).scalar_one()

    def copies():
        return [record for record in read_to_end(infra.bootstrap, REDEMPTION_EVENTS)
                if str(redemption_id).encode() in record.value]

    published = wait_for(lambda: len(found := copies()) >= 2 and found, timeout=30, interval=0,
                         what="the event published before the kill and again after the restart")
    assert len(published) == 2
    assert all(str(event_id).encode() in record.value and record.key == member_id.encode() for record in published)
