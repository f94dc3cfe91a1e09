import json
import uuid
from datetime import timedelta

import sqlalchemy as sa
from click.testing import CliRunner
from prometheus_client import REGISTRY

from rewards_shared import kafka, outbox, tracing
from rewards_shared.cli import cli
from rewards_shared.db import outbox as outbox_table
from rewards_shared.events import Event
from rewards_shared.outbox import OutboxRelay, RetryPolicy
from rewards_shared.topics import TopicSpec
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


def outbox_rows(database, events):
    """The outbox rows of `events`, by event id."""
    with database.transaction() as session:
        rows = session.execute(sa.select(outbox_table).where(
            outbox_table.c.event_id.in_([uuid.UUID(e.id) for e in events]))).mappings().all()
    return {str(row["event_id"]): row for row in rows}


def test_a_row_the_broker_refuses_fails_after_its_attempts_and_holds_back_only_its_own_key(
        scratch_db, infra, topic, member_id):
    other = f"{member_id}-other"
    too_large = Event.create("points.earned", "test", member_id,
                             {"member_id": member_id, "points": 1, "reason": "x" * 5000})
    behind = earned(member_id, 2)
    others = [earned(other, 3), earned(other, 4)]
    with scratch_db.transaction() as session:
        outbox.add_many(session, [too_large, behind], topic=topic)
        outbox.add_many(session, others, topic=topic)
    strict = OutboxRelay(scratch_db, lambda: kafka.producer(infra.bootstrap, "strict", max_request_size=2000),
                         service=f"strict-{uuid.uuid4()}", idle_wait=0.2,
                         retry=RetryPolicy(max_attempts=3, first_delay=0.05, max_delay=0.1))
    failed_before = REGISTRY.get_sample_value("rewards_outbox_failed_total",
                                              {"service": strict.service, "topic": topic}) or 0
    with Running(strict):
        records = read_topic(infra.bootstrap, topic, expected=2)
        wait_for(lambda: outbox_rows(scratch_db, [too_large])[too_large.id]["status"] == "failed",
                 what="the refused row to fail")
    assert [json.loads(r.value)["id"] for r in records] == [e.id for e in others]
    rows = outbox_rows(scratch_db, [too_large, behind])
    assert rows[too_large.id]["attempts"] == 3 and "MessageSizeTooLarge" in rows[too_large.id]["last_error"]
    assert rows[behind.id]["status"] == "pending" and rows[behind.id]["attempts"] == 0
    assert REGISTRY.get_sample_value("rewards_outbox_failed_total",
                                     {"service": strict.service, "topic": topic}) == failed_before + 1
    with scratch_db.transaction() as session:
        listed = {str(row["event_id"]): row for row in outbox.listing(session, limit=1000)}
    assert listed[too_large.id]["holding_back"] == 1 and behind.id not in listed

    with scratch_db.transaction() as session:
        assert outbox.retry(session, [rows[too_large.id]["id"]]) == 1
    with Running(relay_for(scratch_db, infra)):
        records = read_topic(infra.bootstrap, topic, expected=4)
    assert [json.loads(r.value)["id"] for r in records] == [e.id for e in others] + [too_large.id, behind.id]
    assert {row["status"] for row in outbox_rows(scratch_db, [too_large, behind]).values()} == {"sent"}


def test_sent_rows_are_purged_once_old_enough(scratch_db, member_id):
    old, recent = earned(member_id, 1), earned(member_id, 2)
    with scratch_db.transaction() as session:
        outbox.add_many(session, [old, recent], topic="test.never-published")
        session.execute(outbox_table.update().where(outbox_table.c.event_id == uuid.UUID(old.id)).values(
            status="sent", published_at=sa.func.now() - timedelta(days=2)))
        session.execute(outbox_table.update().where(outbox_table.c.event_id == uuid.UUID(recent.id)).values(
            status="sent", published_at=sa.func.now() - timedelta(hours=1)))
    assert outbox.purge_sent(scratch_db, timedelta(hours=24)) >= 1
    assert list(outbox_rows(scratch_db, [old, recent])) == [recent.id]


def test_outbox_rows_carry_the_trace_of_the_work_that_wrote_them(scratch_db, member_id):
    inside, outside = earned(member_id, 1), earned(member_id, 2)
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with tracing.span("request", parent=parent), scratch_db.transaction() as session:
        outbox.add(session, inside, topic="test.never-published")
    with scratch_db.transaction() as session:
        outbox.add(session, outside, topic="test.never-published")
    rows = outbox_rows(scratch_db, [inside, outside])
    with scratch_db.transaction() as session:
        session.execute(outbox_table.delete().where(outbox_table.c.event_id.in_(
            [uuid.UUID(inside.id), uuid.UUID(outside.id)])))
    carried = rows[inside.id]["headers"]["traceparent"].split("-")
    assert carried[1] == "4bf92f3577b34da6a3ce929d0e0e4736" and carried[2] != "00f067aa0ba902b7"
    assert rows[outside.id]["headers"]["traceparent"].split("-")[1] != carried[1], "a trace of its own"


def test_the_cli_lists_failed_rows_and_retries_them(stack_env, databases, member_id):
    points = databases("points")
    failed, held = earned(member_id, 1), earned(member_id, 2)
    with points.transaction() as session:
        outbox.add_many(session, [failed, held], topic="test.never-published")
        session.execute(outbox_table.update().where(outbox_table.c.event_id == uuid.UUID(failed.id))
                        .values(status="failed", attempts=8, last_error="MessageSizeTooLargeError()"))
    runner = CliRunner(env=stack_env)
    try:
        listed = runner.invoke(cli, ["outbox", "list", "points"])
        assert listed.exit_code == 0, listed.output
        mine = [json.loads(line) for line in listed.output.splitlines() if failed.id in line]
        assert len(mine) == 1 and mine[0]["service"] == "points" and mine[0]["holding_back"] == 1
        assert mine[0]["last_error"] == "MessageSizeTooLargeError()" and mine[0]["attempts"] == 8

        refused = runner.invoke(cli, ["outbox", "retry", "points"])
        assert refused.exit_code != 0 and "--all" in refused.output
        retried = runner.invoke(cli, ["outbox", "retry", "points", str(mine[0]["id"])])
        assert retried.exit_code == 0 and "1 row(s) back to pending" in retried.output, retried.output
        row = outbox_rows(points, [failed])[failed.id]
        assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 0, "MessageSizeTooLargeError()")
    finally:
        with points.transaction() as session:
            session.execute(outbox_table.delete().where(outbox_table.c.event_id.in_(
                [uuid.UUID(failed.id), uuid.UUID(held.id)])))


def test_rows_for_a_topic_the_broker_lacks_wait_for_it_without_holding_up_the_rest(
        scratch_db, infra, topic, member_id):
    missing = f"test.later.{uuid.uuid4().hex[:10]}"
    waiting = [earned(member_id, 1), earned(member_id, 2)]
    others_waiting = [earned(f"{member_id}-{n}", n) for n in range(3, 8)]
    flowing = [earned(f"{member_id}-other", 3)]
    with scratch_db.transaction() as session:
        outbox.add_many(session, waiting + others_waiting, topic=missing)
        outbox.add_many(session, flowing, topic=topic)
    relay = OutboxRelay(scratch_db, lambda: kafka.producer(infra.bootstrap, "patient", max_block_ms=300),
                        service=f"patient-{uuid.uuid4()}", idle_wait=0.2, batch_size=3,
                        retry=RetryPolicy(max_attempts=100, first_delay=0.5, max_delay=1))
    with Running(relay):
        assert [json.loads(r.value)["id"] for r in read_topic(infra.bootstrap, topic, expected=1)] == \
            [flowing[0].id]
        first = wait_for(lambda: (row := outbox_rows(scratch_db, waiting)[waiting[0].id])["last_error"] and row,
                         what="the first row's refusal")
        assert "KafkaTimeoutError" in first["last_error"] and first["status"] == "pending"
        assert outbox_rows(scratch_db, waiting)[waiting[1].id]["attempts"] == 0, "the second waits behind it"
        kafka.ensure_topics(infra.bootstrap, (TopicSpec(missing, partitions=1),))
        records = read_topic(infra.bootstrap, missing, expected=7, timeout=30)
    published = [json.loads(r.value)["id"] for r in records]
    assert sorted(published) == sorted(e.id for e in waiting + others_waiting)
    assert published.index(waiting[0].id) < published.index(waiting[1].id)
