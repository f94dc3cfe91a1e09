"""Erasure, everywhere, within a minute: after a member who holds something in every service is erased,
no database, no message published since and no log file holds their id, card reference (nor its HMAC),
email, phone or push token. The ledger keeps its amounts under a random pseudonym; their holds and pending
points are released; events for them that arrive late change nothing."""
from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from points import ledger
from points.models import Account, Earning, Transfer
from points.verify import snapshot, verify
from rewards_shared.db import processed_events
from rewards_shared.events import Event, encode
from rewards_shared.topics import (
    LEDGER_EVENTS,
    REDEMPTION_EVENTS,
    TRANSIT_JOURNEYS,
    VOLUNTEERING_ATTENDANCES,
    topic_for,
)
from tests.support import traces
from tests.support.api import ServiceClient
from tests.support.polling import wait_for
from tests.support.scheme import Member, Scheme, Tenants
from transit_ingest.cards import CardHasher
from transit_ingest.formats import LITTLEPAY_V3

SERVICES_WITH_CONSUMERS = ("points", "transit-ingest", "redemption", "notifications", "impact")


@pytest.fixture
def scheme(client, stack_env) -> Scheme:
    return Scheme(client, Path(stack_env["VOLUNTEERING_CODE_KEY_FILE"]).read_text())


@pytest.fixture(scope="module")
def publish(infra):
    producer = KafkaProducer(bootstrap_servers=infra.bootstrap)

    def send(event: Event, topic: str | None = None) -> Event:
        producer.send(topic or topic_for(event.type), key=event.subject.encode(), value=encode(event)).get(timeout=10)
        return event
    yield send
    producer.close()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def everything_held(scheme: Scheme, client, services, tenants: Tenants) -> Member:
    """A member with points, a card, journeys (pushed and from a file), an attendance awaiting confirmation
    (pending points), an issued voucher (a hold), contacts, preferences, notifications, a research profile, a
    donation made with their own credential, and an export."""
    member = scheme.member(tenants)
    member_id = member.member_id
    assert client("points").put(f"/v1/members/{member_id}/profile", json={
        "home_area": "LS6", "usual_mode": "car", "research_consent": True}).status_code == 200
    group_id = f"group-{uuid.uuid4().hex[:8]}"
    assert client("points", "catalogue").post("/v1/community-groups", json={
        "group_id": group_id, "name": "Food bank"}).status_code == 201
    as_member = ServiceClient(services["points"], scheme.member_token(member_id))
    donated = as_member.post("/v1/donations", json={"member_id": member_id, "group_id": group_id, "points": 3},
                             headers={"Idempotency-Key": uuid.uuid4().hex})
    assert donated.status_code == 201, donated.text

    operator = client("transit-ingest", f"operator:{tenants.operator_id}")
    at = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    rows = [{"littlepay_transaction_id": f"f-{uuid.uuid4().hex[:10]}", "funding_source_id": member.card_ref,
             "participant_id": tenants.operator_id, "mode": "bus", "transaction_outcome": "allow", "type": kind,
             "transaction_timestamp_utc": (at + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
            for kind, m in (("on", 0), ("off", 17))]
    body = "\n".join(["|".join(LITTLEPAY_V3)] + ["|".join(r.get(c, "") for c in LITTLEPAY_V3) for r in rows]) + "\n"
    feed = operator.post(f"/v1/operators/{tenants.operator_id}/feeds?format=littlepay-v3", data=body.encode())
    assert feed.status_code == 202, feed.text
    wait_for(lambda: operator.get(f"/v1/operators/{tenants.operator_id}/feeds/{feed.json()['feed_id']}")
             .json()["status"] == "done", timeout=30, what="the file to be processed")

    support = client("points", "support")
    export = support.post(f"/v1/members/{member_id}/exports").json()
    wait_for(lambda: support.get(f"/v1/exports/{export['export_id']}").json()["status"] == "done", timeout=60,
             what="the export")
    return member


def test_an_erased_member_leaves_no_trace_within_a_minute(client, services, scheme, publish, databases, stack,
                                                          stack_env, infra):
    tenants = scheme.tenants()
    member = everything_held(scheme, client, services, tenants)
    member_id = member.member_id
    card_hash = CardHasher(Path(stack_env["CARD_HMAC_KEY_FILE"]).read_text())(tenants.operator_id, member.card_ref)
    needles = [member_id, member.card_ref, card_hash.hex(), member.email, member.phone, member.push_token,
               sha256(member_id), sha256(member.card_ref)]
    logs = traces.log_files(stack.logs, stack.servers / "postgres", stack.servers / "kafka")

    def left_behind(since_ms: int) -> list[str]:
        return (traces.in_databases(databases, SERVICES_WITH_CONSUMERS, needles)
                + traces.on_topics(infra.bootstrap, needles, since_ms=since_ms, allowed=allowed)
                + traces.in_logs(logs, needles))

    held = traces.in_databases(databases, SERVICES_WITH_CONSUMERS, needles)
    for expected in (f"points.members: {member_id}", f"transit-ingest.taps: {card_hash.hex()}",
                     f"notifications.contacts: {member.email}", f"notifications.contacts: {member.phone}"):
        assert expected in held, "the search finds what is held before the erasure"

    erased_at = time.time()
    assert client("points", "support").delete(f"/v1/members/{member_id}").status_code == 204
    late = late_events(publish, member, tenants)

    def allowed(event: dict) -> bool:
        """The erasure itself, and the late events this test sends, name the member; nothing else may."""
        return event.get("type") == "member.erased" or event.get("id") in {e.id for e in late}

    refused_after_erasure(client, member, tenants)
    wait_for(lambda: handled(databases, late), timeout=30, what="the late events")
    remaining = wait_for(lambda: not (found := left_behind(int(erased_at * 1000))) or
                         time.time() > erased_at + 60 and found, timeout=70, interval=1.0,
                         what="every trace to go")
    assert remaining is True, f"traces left a minute after the erasure: {remaining}"
    ledger_kept_amounts_only(databases, member, late, erased_at)
    redemption = client("redemption", "support").get(f"/v1/redemptions/{member.redemption_id}").json()
    assert (redemption["status"], redemption["reason"], redemption["member_id"]) == \
        ("cancelled", "member_erased", None)


def late_events(publish, member: Member, tenants: Tenants) -> list[Event]:
    """As if they were in flight when the erasure happened."""
    member_id, started = member.member_id, datetime.now(UTC) - timedelta(hours=1)
    return [
        publish(Event.create("transit.journey.completed", "transit-ingest", member_id, {
            "member_id": member_id, "journey_id": f"late-{uuid.uuid4().hex}", "operator_id": tenants.operator_id,
            "kind": "paired", "mode": "bus", "started_at": started.isoformat(),
            "ended_at": (started + timedelta(minutes=20)).isoformat(), "distance_km": 4.2}), TRANSIT_JOURNEYS),
        publish(Event.create("volunteering.attendance.confirmed", "points", member_id, {
            "member_id": member_id, "attendance_id": member.attendance_id, "opportunity_id": tenants.opportunity_id,
            "organiser_id": tenants.organiser_id, "checked_in_at": started.isoformat(),
            "checked_out_at": (started + timedelta(minutes=50)).isoformat(), "minutes": 50}),
            VOLUNTEERING_ATTENDANCES),
        publish(Event.create("redemption.requested", "redemption", member_id, {
            "member_id": member_id, "redemption_id": str(uuid.uuid4()), "reward_id": tenants.reward_id,
            "cost_points": 10}), REDEMPTION_EVENTS),
        publish(Event.create("redemption.completed", "redemption", member_id, {
            "member_id": member_id, "redemption_id": member.redemption_id, "reward_id": tenants.reward_id,
            "cost_points": 10}), REDEMPTION_EVENTS),
        publish(Event.create("points.earned", "points", member_id, {
            "member_id": member_id, "points": 10, "source_type": "journey", "source_id": "late"}), LEDGER_EVENTS),
    ]


def refused_after_erasure(client, member: Member, tenants: Tenants) -> None:
    member_id = member.member_id
    assert client("points").post("/v1/members", json={"member_id": member_id}).status_code == 410
    assert client("points").get(f"/v1/members/{member_id}/balance").status_code == 410
    assert client("points").get(f"/v1/members/{member_id}/transactions").status_code == 410
    assert client("notifications").put(f"/v1/members/{member_id}/contacts", json={
        "email": member.email}).status_code == 410
    assert client("transit-ingest").post("/v1/card-links", json={
        "member_id": member_id, "operator_id": tenants.operator_id, "card_ref": member.card_ref}).status_code == 410
    assert client("redemption").post("/v1/redemptions", json={"member_id": member_id, "reward_id": tenants.reward_id},
                                     headers={"Idempotency-Key": uuid.uuid4().hex}).status_code == 410
    organiser = client("points", f"organiser:{tenants.organiser_id}")
    assert organiser.post(f"/v1/attendances/{member.attendance_id}/confirm", json={}).status_code == 410


def handled(databases, events: list[Event]) -> bool:
    """Every consumer that takes each late event has settled it (points all of them; notifications the
    ledger's; the impact service the journey)."""
    wanted = {"points": events[:4], "notifications": events[4:], "impact": events[:1]}
    for service, expected in wanted.items():
        with databases(service).reading() as connection:
            seen = connection.execute(sa.select(sa.func.count(sa.distinct(processed_events.c.event_id))).where(
                processed_events.c.event_id.in_([uuid.UUID(e.id) for e in expected]))).scalar()
        if seen < len(expected):
            return False
    return True


def ledger_kept_amounts_only(databases, member: Member, late: list[Event], erased_at: float) -> None:
    """Under the pseudonym: the hold released, the pending points dropped, nothing left to spend, nothing
    credited by the late events."""
    with databases("points").transaction() as session:
        hold = session.get(Transfer, ledger.transfer_id("hold", member.redemption_id))
        pseudonym = hold.member_id
        assert pseudonym.startswith("erased-")
        assert ledger.resolution_of(session, hold.id).code == "release"
        pending = session.get(Transfer, ledger.transfer_id("pending-cleared", f"attendance:{member.attendance_id}"))
        assert (pending.code, pending.member_id) == ("reject", pseudonym)
        for account in (ledger.available_account(pseudonym), ledger.pending_account(pseudonym)):
            row = session.get(Account, account)
            assert row.credits_posted - row.debits_posted == 0 and row.debits_pending == 0, account
        assert session.get(Earning, ("journey", late[0].data["journey_id"])) is None
        since = session.execute(sa.select(Transfer.code).where(
            Transfer.member_id == pseudonym, Transfer.created_at >= datetime.fromtimestamp(erased_at, UTC))
        ).scalars().all()
        assert sorted(since) == ["erase", "reject", "release"], "the erasure's own entries, nothing after them"
    with snapshot(databases("points")) as session:
        report = verify(session, at=datetime.now(UTC))
    assert report.ok, report.breaches
