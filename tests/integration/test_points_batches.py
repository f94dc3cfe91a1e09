"""Journeys and providers' activities credited as a set give exactly what crediting them one event at a
time gives: several of one member against the daily caps, a tier crossed, a campaign, a hold, a repeat,
a correction inside the batch, an erased member, and a poison event among them, through the real broker."""
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from points import handlers, ledger, referrals, rules
from points.bootstrap import bootstrap
from points.models import Account, Earning, Member, Transfer
from points.verify import verify
from rewards_shared import kafka
from rewards_shared.consumer import Backoff, Batched, ConsumerLoop
from rewards_shared.db import outbox
from rewards_shared.events import Event, decode, encode
from rewards_shared.topics import TopicSpec, dead_letter_topic
from tests.integration.conftest import Running, read_to_end
from tests.support.polling import wait_for

DAY = datetime(2026, 11, 18, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def points_db(databases):
    return databases("points")


@pytest.fixture
def rt(points_db, settings_for):
    return bootstrap(settings_for("points"), database=points_db)


@pytest.fixture(scope="module")
def campaign_stop():
    return f"stop-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True, scope="module")
def campaign(databases, campaign_stop):
    """Double points at one stop of this module's own, so no other test's journeys are touched."""
    with databases("points").transaction() as session:
        rules.add_version(session, rule_id=f"campaign-{campaign_stop}", kind="campaign", definition={
            "multiplier": 2, "starts_at": (DAY - timedelta(days=1)).isoformat(),
            "ends_at": (DAY + timedelta(days=2)).isoformat(), "activity": "journey",
            "area": {"stop_ids": [campaign_stop]}}, effective_from=DAY - timedelta(days=30), effective_to=None,
            actor="test")


def journey(prefix, member, number, *, hour, mode="bus", revision=1, stop="S1", kind=None):
    started = DAY + timedelta(hours=hour)
    return Event.create(kind or ("transit.journey.corrected" if revision > 1 else "transit.journey.completed"),
                        "transit-ingest", f"{prefix}-{member}", {
                            "member_id": f"{prefix}-{member}", "journey_id": f"{prefix}-j{number}",
                            "operator_id": "leeds-bus", "kind": "paired", "mode": mode,
                            "started_at": started.isoformat(),
                            "ended_at": (started + timedelta(minutes=20)).isoformat(),
                            "origin_stop_id": stop, "destination_stop_id": "S2", "revision": revision})


def scenario(rt, prefix, campaign_stop) -> list[Event]:
    """Members' standing before, then the events of one poll, in order (a repeated event included)."""
    with rt.database.transaction() as session:
        ledger.earn(session, member_id=f"{prefix}-near", points=490, source_type="test", source_id="start",
                    cause=f"{prefix}-start")
        ledger.earn(session, member_id=f"{prefix}-holder", points=100, source_type="test", source_id="start",
                    cause=f"{prefix}-holder-start")
        ledger.hold(session, member_id=f"{prefix}-holder", points=30, id=uuid.uuid4(),
                    timeout_at=datetime.now(UTC) + timedelta(days=1), source_type="redemption", source_id="r1")
        rt.tombstones.bury(session, f"{prefix}-gone")
        code = referrals.code_of(session, f"{prefix}-host")
        for newcomer in ("newa", "newb"):
            referrals.apply(session, f"{prefix}-{newcomer}", code, at=DAY)
    events = [journey(prefix, "busy", n, hour=h, mode=m) for n, (h, m) in
              enumerate([(7, "bus"), (11, "rail"), (12, "tram"), (13, "bus"), (14, "bus"), (18, "rail")])]
    events.insert(3, journey(prefix, "busy", 1, hour=11, mode="rail"))  # the same journey announced again
    events += [journey(prefix, "near", 10, hour=8), journey(prefix, "near", 11, hour=12, stop=campaign_stop),
               journey(prefix, "gone", 20, hour=9), journey(prefix, "holder", 30, hour=10),
               journey(prefix, "fixed", 40, hour=8, mode="bus"),
               journey(prefix, "fixed", 41, hour=9),
               journey(prefix, "fixed", 40, hour=8, mode="rail", revision=2),
               journey(prefix, "holder", 31, hour=15, stop=campaign_stop),
               journey(prefix, "newa", 50, hour=7), journey(prefix, "newb", 51, hour=7),
               journey(prefix, "newa", 52, hour=9)]  # referred members' first credits pay both sides once
    events.insert(9, events[0])  # a redelivery of the very same event
    return events


def activity(prefix, member, number, *, hour, kind="cycle.trip", quantity=5.0, revision=1):
    occurred = DAY + timedelta(hours=hour)
    return Event.create("activity.corrected" if revision > 1 else "activity.recorded", "points", f"{prefix}-{member}", {
        "member_id": f"{prefix}-{member}", "provider_id": f"{prefix}-bikes", "activity_id": f"a{number}",
        "kind": kind, "priorities": ["transport", "climate"] if kind == "cycle.trip" else ["health"],
        "occurred_at": occurred.isoformat(), "quantity": quantity, "unit": "km" if kind == "cycle.trip" else "visit",
        "revision": revision})


def activity_scenario(rt, prefix) -> list[Event]:
    """By the rules shipped: cycle trips earn 2 a km (at most 20 km), 4 a day; one leisure visit a day."""
    with rt.database.transaction() as session:
        ledger.earn(session, member_id=f"{prefix}-near", points=490, source_type="test", source_id="start",
                    cause=f"{prefix}-start")
        rt.tombstones.bury(session, f"{prefix}-gone")
    events = [activity(prefix, "busy", n, hour=7 + n) for n in range(5)]  # the fifth trip of the day is capped
    events += [activity(prefix, "busy", 10, hour=8, kind="leisure.visit", quantity=1),
               activity(prefix, "busy", 11, hour=18, kind="leisure.visit", quantity=1),  # capped: one a day
               activity(prefix, "busy", 12, hour=20, quantity=55),  # capped by the trip cap, not by its length
               activity(prefix, "near", 20, hour=9, kind="leisure.visit", quantity=1),  # crosses into silver
               activity(prefix, "gone", 30, hour=9),
               activity(prefix, "fixed", 40, hour=8, quantity=3),
               activity(prefix, "fixed", 41, hour=9, quantity=4),
               activity(prefix, "fixed", 40, hour=8, quantity=12, revision=2),
               activity(prefix, "fixed", 40, hour=8, quantity=3)]  # the older revision, late: ignored
    events.insert(2, events[1])  # a redelivery of the very same event
    events.insert(4, activity(prefix, "busy", 1, hour=8))  # the same activity announced again
    return events


def snapshot(database, prefix) -> dict:
    """Everything the ledger holds for the prefix's members, with the prefix taken out."""
    def plain(value):
        return json.loads(json.dumps(value, default=str).replace(prefix, "P")) if value is not None else None

    like = f"{prefix}-%"
    with database.transaction() as session:
        earnings = session.execute(sa.select(Earning.source_id, Earning.member_id, Earning.revision, Earning.status,
                                             Earning.points).where(Earning.member_id.like(like))
                                   .order_by(Earning.source_id)).all()
        transfers = session.execute(sa.select(Transfer.member_id, Transfer.code, Transfer.amount, Transfer.source_id,
                                              Transfer.rule_id, Transfer.details).where(Transfer.member_id.like(like))
                                    .order_by(Transfer.seq)).all()
        accounts = session.execute(sa.select(Account.id, Account.credits_posted, Account.debits_posted,
                                             Account.debits_pending, Account.credits_pending)
                                   .where(Account.member_id.like(like)).order_by(Account.id)).all()
        members = session.execute(sa.select(Member.member_id, Member.lifetime_earned, Member.tier)
                                  .where(Member.member_id.like(like)).order_by(Member.member_id)).all()
        events = [decode(p) for p in session.execute(sa.select(outbox.c.payload).where(outbox.c.key.like(like))
                                                     .order_by(outbox.c.id)).scalars()]
    # A referral's id is random: its bonuses are compared by what they are, not by that id.
    transfers = [(*row[:3], "referral" if (row[-1] or {}).get("referral") else row[3], row[4],
                  {k: v for k, v in (row[-1] or {}).items() if k != "reverses"}) for row in transfers]
    told = [(e.type, {k: v for k, v in e.data.items() if k not in ("transfer_id", "hold_id")
                      and not (k == "source_id" and e.data.get("source_type") == "referral")}) for e in events]
    # A referral bonus follows the batch's credits rather than the member's first one: the same transfers
    # and final balances, in another order, so these members' transfers and events are compared as sets.
    referred = (f"{prefix}-newa", f"{prefix}-newb", f"{prefix}-host")
    transfers = [t for t in transfers if t[0] not in referred] + sorted(
        (t for t in transfers if t[0] in referred), key=repr)
    told = [t for t in told if t[1]["member_id"] not in referred] + sorted(
        ((kind, {k: v for k, v in data.items() if k != "available"}) for kind, data in told
         if data["member_id"] in referred), key=repr)
    # Each member's transfers and events in the order they were written; members may interleave differently.
    return plain({"earnings": [list(r) for r in earnings], "accounts": [list(r) for r in accounts],
                  "transfers": sorted([list(r) for r in transfers], key=lambda row: row[0]),
                  "members": [list(r) for r in members], "events": sorted(told, key=lambda t: t[1]["member_id"])})


def one_by_one(rt, events) -> None:
    loop = ConsumerLoop(name=f"single-{uuid.uuid4().hex[:8]}", topics=[], handlers=handlers.build(rt),
                        database=rt.database, consumer_factory=None, producer_factory=None)
    for event in events:
        loop.apply(event)


def through_the_broker(rt, infra, topic, events, poison=None,
                       batched=("transit.journey.completed", "transit.journey.corrected")) -> tuple[list[int], list]:
    """Send the events (and a poison message after the fifth), run the worker's consumer until every
    event is settled; the sizes of the batches handled (of the `batched` types), and the dead-lettered
    messages."""
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(infra.bootstrap, (TopicSpec(dead_letter_topic(topic, group), partitions=1),))
    calls: list[int] = []
    registered = handlers.build(rt)
    for kind in batched:
        def spy(session, batch, handler=registered[kind]):
            calls.append(len(batch))
            handler.handle_batch(session, batch)
        registered[kind] = Batched(spy)
    producer = kafka.producer(infra.bootstrap, group)
    for n, event in enumerate(events):
        producer.send(topic, key=event.subject.encode(), value=encode(event))
        if n == 5 and poison is not None:
            producer.send(topic, key=poison.subject.encode(), value=encode(poison))
    producer.flush()
    producer.close()
    loop = ConsumerLoop(name=group, topics=[topic], handlers=registered, database=rt.database,
                        consumer_factory=lambda: kafka.consumer(infra.bootstrap, group, group),
                        producer_factory=lambda: kafka.producer(infra.bootstrap, group + "-dlq"),
                        max_attempts=2, backoff=Backoff(initial=0.01, maximum=0.05), poll_timeout_ms=200)
    expected = len({e.id for e in events})
    dead = []
    with Running(loop):
        wait_for(lambda: _settled(rt.database, group) >= expected, timeout=60, what="every event settled")
        if poison is not None:
            dead = wait_for(lambda: (found := read_to_end(infra.bootstrap, dead_letter_topic(topic, group)))
                            and found, what="the poison on the dead-letter topic")
    return calls, dead


def _settled(database, group) -> int:
    with database.transaction() as session:
        return session.execute(sa.text("SELECT count(*) FROM processed_events WHERE consumer = :g"),
                               {"g": group}).scalar()


def ledger_is_whole(database):
    with database.transaction() as session:
        session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        report = verify(session)
    assert report.ok, report.breaches


def test_a_batch_of_journeys_credits_exactly_what_one_event_at_a_time_does(rt, infra, topic, campaign_stop):
    single, batched = f"s{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    one_by_one(rt, scenario(rt, single, campaign_stop))
    events = scenario(rt, batched, campaign_stop)
    calls, _ = through_the_broker(rt, infra, topic, events)
    assert max(calls) > 5 and sum(calls) == len({e.id for e in events}), f"applied as batches, each once: {calls}"
    expected, found = snapshot(rt.database, single), snapshot(rt.database, batched)
    assert found == expected
    statuses = [row[3] for row in found["earnings"] if row[1] == "P-busy"]
    assert sorted(statuses) == ["capped", "capped", "credited", "credited", "credited", "credited"]
    assert any(kind == "tier.changed" for kind, _ in found["events"]), "P-near crossed into silver"
    assert [row[1:4] for row in found["earnings"] if row[0] == "P-j40"] == [["P-fixed", 2, "credited"]]
    assert not [row for row in found["earnings"] if row[1] == "P-gone"], "an erased member earns nothing"
    holder = [data for kind, data in found["events"] if kind == "points.earned" and data["member_id"] == "P-holder"]
    assert holder[-1]["available"] == 100 - 30 + sum(d["points"] for d in holder[1:]), "held points stay held"
    bonuses = sorted((row[0], row[2]) for row in found["transfers"] if row[3] == "referral")
    assert bonuses == [("P-host", 100), ("P-host", 100), ("P-newa", 100), ("P-newb", 100)], bonuses
    campaign = next(row[5] for row in found["transfers"] if row[3] == "P-j31")
    assert any(part.get("multiplier") == 2 for part in campaign["breakdown"]), "the campaign doubled it"
    ledger_is_whole(rt.database)


def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_rest_credited_once(rt, infra, topic, campaign_stop):
    single, batched = f"s{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    one_by_one(rt, scenario(rt, single, campaign_stop))
    poison = journey(batched, "busy", 99, hour=10)
    poison.data["mode"] = "hovercraft"
    calls, dead = through_the_broker(rt, infra, topic, scenario(rt, batched, campaign_stop), poison=poison)
    assert [decode(d.value).id for d in dead] == [poison.id]
    assert dict(dead[0].headers)["error_type"] == b"InvalidEvent"
    assert snapshot(rt.database, batched) == snapshot(rt.database, single)
    ledger_is_whole(rt.database)


def test_a_batch_of_providers_activities_credits_exactly_what_one_event_at_a_time_does(rt, infra, topic):
    single, batched = f"s{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    one_by_one(rt, activity_scenario(rt, single))
    events = activity_scenario(rt, batched)
    calls, _ = through_the_broker(rt, infra, topic, events, batched=("activity.recorded", "activity.corrected"))
    assert max(calls) > 5 and sum(calls) == len({e.id for e in events}), f"applied as batches, each once: {calls}"
    expected, found = snapshot(rt.database, single), snapshot(rt.database, batched)
    assert found == expected
    busy = {row[0]: (row[3], row[4]) for row in found["earnings"] if row[1] == "P-busy"}
    assert busy == {"P-bikes:a0": ("credited", 10), "P-bikes:a1": ("credited", 10), "P-bikes:a2": ("credited", 10),
                    "P-bikes:a3": ("credited", 10), "P-bikes:a4": ("capped", 0), "P-bikes:a10": ("credited", 20),
                    "P-bikes:a11": ("capped", 0), "P-bikes:a12": ("capped", 0)}
    assert [row[2:5] for row in found["earnings"] if row[0] == "P-bikes:a40"] == [[2, "credited", 24]]
    assert any(kind == "tier.changed" for kind, _ in found["events"]), "P-near crossed into silver"
    assert not [row for row in found["earnings"] if row[1] == "P-gone"], "an erased member earns nothing"
    ledger_is_whole(rt.database)
