import json
import uuid

import sqlalchemy as sa

from rewards_shared import kafka, outbox
from rewards_shared.db import outbox as outbox_table
from rewards_shared.events import Event
from rewards_shared.outbox import OutboxRelay
from tests.integration.conftest import Running, read_topic
from tests.support.polling import wait_for


def relay_for(database, infra, name="test-relay"):
    return OutboxRelay(database, lambda: kafka.producer(infra.bootstrap, name), service=f"{name}-{uuid.uuid4()}",
                       idle_wait=0.2)


def earned(member_id, points):
    return Event.create("points.earned", "test", member_id, {"member_id": member_id, "points": points})


def test_committed_events_are_published_in_order_and_marked_sent(scratch_db, infra, topic, member_id):
    events = [earned(member_id, n) for n in range(1, 31)]
    for event in events:
        with scratch_db.transaction() as session:
            outbox.add(session, event, topic=topic)
    relay = relay_for(scratch_db, infra)
    with Running(relay):
        records = read_topic(infra.bootstrap, topic, expected=30)
    assert [json.loads(r.value)["id"] for r in records] == [e.id for e in events]
    assert {r.key.decode() for r in records} == {member_id}
    with scratch_db.transaction() as session:
        statuses = session.execute(sa.select(outbox_table.c.status).where(
            outbox_table.c.event_id.in_([uuid.UUID(e.id) for e in events]))).scalars().all()
    assert statuses == ["sent"] * 30


def test_nothing_is_published_for_a_rolled_back_transaction(scratch_db, infra, topic, member_id):
    class Abandon(Exception):
        pass

    try:
        with scratch_db.transaction() as session:
            outbox.add(session, earned(member_id, 99), topic=topic)
            raise Abandon
    except Abandon:
        pass
    kept = earned(member_id, 1)
    with scratch_db.transaction() as session:
        outbox.add(session, kept, topic=topic)
    with Running(relay_for(scratch_db, infra)):
        records = read_topic(infra.bootstrap, topic, expected=1)
    assert [json.loads(r.value)["id"] for r in records] == [kept.id]


def test_a_running_relay_publishes_what_commits_later(scratch_db, infra, topic, member_id):
    with Running(relay_for(scratch_db, infra)):
        event = earned(member_id, 5)
        with scratch_db.transaction() as session:
            outbox.add(session, event, topic=topic)
        records = wait_for(lambda: read_topic(infra.bootstrap, topic, expected=1, timeout=1), timeout=20,
                           what="the relay to publish")
    assert json.loads(records[0].value)["id"] == event.id


def test_only_one_relay_of_a_service_publishes(scratch_db, infra, topic, member_id):
    service = f"svc-{uuid.uuid4()}"
    first = OutboxRelay(scratch_db, lambda: kafka.producer(infra.bootstrap, "a"), service=service, idle_wait=0.2)
    second = OutboxRelay(scratch_db, lambda: kafka.producer(infra.bootstrap, "b"), service=service, idle_wait=0.2)
    with Running(first):
        wait_for(lambda: first._leading, what="the first relay to lead")
        assert second._lead() is False
    second._reset()
