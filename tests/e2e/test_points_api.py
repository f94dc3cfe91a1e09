"""The points API over HTTP: rules, adjustments, donations, balances and history, and events from Kafka."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from points.models import Earning, Transfer
from rewards_shared.db import outbox, processed_events
from rewards_shared.events import Event, encode
from rewards_shared.topics import REDEMPTION_EVENTS, TRANSIT_JOURNEYS, VOLUNTEERING_ATTENDANCES
from tests.support.polling import wait_for

SERVICES = ["points"]


@pytest.fixture
def points(client):
    return client("points")


@pytest.fixture
def admin(client):
    return client("points", "admin")


@pytest.fixture
def finance(client):
    return client("points", "finance")


@pytest.fixture
def catalogue(client):
    return client("points", "catalogue")


@pytest.fixture(scope="module")
def publish(infra):
    producer = KafkaProducer(bootstrap_servers=infra.bootstrap)

    def send(topic, event):
        producer.send(topic, key=event.subject.encode(), value=encode(event)).get(timeout=10)
        return event
    yield send
    producer.close()


def register(points, member_id):
    assert points.post("/v1/members", json={"member_id": member_id}).status_code == 201


def adjust(finance, member_id, amount, key=None, reason="welcome bonus"):
    return finance.post("/v1/adjustments", json={"member_id": member_id, "points": amount, "reason": reason},
                      headers={"Idempotency-Key": key or uuid.uuid4().hex})


def balance(points, member_id):
    return points.get(f"/v1/members/{member_id}/balance").json()


def test_adjustments_are_for_finance_only_idempotent_and_never_overdraw(points, finance, admin, member_id):
    register(points, member_id)
    assert adjust(admin, member_id, 40).status_code == 403
    first = adjust(finance, member_id, 40, key="adj-1-" + member_id)
    assert first.status_code == 201, first.text
    replay = adjust(finance, member_id, 40, key="adj-1-" + member_id)
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    different = adjust(finance, member_id, 41, key="adj-1-" + member_id)
    assert different.status_code == 422 and "Idempotency-Key" in different.json()["errors"]
    assert adjust(finance, member_id, -41).status_code == 409
    assert points.post("/v1/adjustments", json={"member_id": member_id, "points": 5, "reason": "nope"},
                       headers={"Idempotency-Key": "x"}).status_code == 403
    missing_key = finance.post("/v1/adjustments", json={"member_id": member_id, "points": 5, "reason": "why"})
    assert missing_key.status_code == 400 and "Idempotency-Key" in missing_key.json()["errors"]
    assert balance(points, member_id)["available"] == 40


def test_rules_are_listed_and_a_bad_rule_is_refused_by_field(admin, points):
    listed = admin.get("/v1/rules").json()["items"]
    assert {"journey-by-mode", "off-peak-bonus", "journey-daily-cap", "volunteering-hours"} <= \
        {r["rule_id"] for r in listed}
    bad = admin.post("/v1/rules", json={"rule_id": "half-term", "kind": "campaign",
                                        "definition": {"multiplier": -2, "starts_at": "yesterday"}})
    assert bad.status_code == 422
    assert {"definition.multiplier", "definition.starts_at", "definition.ends_at"} <= set(bad.json()["errors"])
    assert all(r["rule_id"] != "half-term" for r in admin.get("/v1/rules").json()["items"])
    good = admin.post("/v1/rules", json={"rule_id": f"half-term-{uuid.uuid4().hex[:6]}", "kind": "campaign",
                                         "effective_from": "2021-01-01T00:00:00Z",
                                         "definition": {"multiplier": 1.5, "starts_at": "2021-02-15T00:00:00Z",
                                                        "ends_at": "2021-02-20T00:00:00Z"}})
    assert good.status_code == 201 and good.json()["version"] == 1
    assert points.get("/v1/rules").status_code == 403


def test_donations_move_points_to_a_community_group(points, finance, catalogue, client, member_id):
    register(points, member_id)
    adjust(finance, member_id, 25)
    group = f"group-{uuid.uuid4().hex[:8]}"
    created = catalogue.post("/v1/community-groups", json={"group_id": group, "name": "Leeds Food Bank"})
    assert created.status_code == 201
    donation = points.post("/v1/donations", json={"member_id": member_id, "group_id": group, "points": 20},
                           headers={"Idempotency-Key": f"don-{member_id}"})
    assert donation.status_code == 201, donation.text
    assert donation.json()["available"] == 5
    too_much = points.post("/v1/donations", json={"member_id": member_id, "group_id": group, "points": 6},
                           headers={"Idempotency-Key": f"don2-{member_id}"})
    assert too_much.status_code == 409 and too_much.headers["Content-Type"] == "application/problem+json"
    assert catalogue.post("/v1/community-groups", json={"group_id": group, "name": "x"}).json()["points_received"] \
        == 20


def test_history_is_cursor_paginated_newest_first(points, finance, member_id):
    register(points, member_id)
    for amount in range(1, 6):
        adjust(finance, member_id, amount)
    seen, cursor = [], None
    while True:
        page = points.get(f"/v1/members/{member_id}/transactions",
                          params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["points"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [5, 4, 3, 2, 1]
    bad = points.get(f"/v1/members/{member_id}/transactions", params={"cursor": "!!"})
    assert bad.status_code == 422 and "cursor" in bad.json()["errors"]
    assert points.get(f"/v1/members/{member_id}/transactions", params={"limit": 0}).status_code == 422


def journey_event(member_id, journey_id, event_type="transit.journey.completed", revision=1, mode="bus"):
    return Event.create(event_type, "transit-ingest", member_id, {
        "member_id": member_id, "journey_id": journey_id, "operator_id": "leeds-bus", "kind": "paired",
        "mode": mode, "started_at": "2026-11-18T11:00:00Z", "revision": revision})


def test_journey_events_redelivered_corrected_voided_and_out_of_order(points, publish, member_id):
    first = publish(TRANSIT_JOURNEYS, journey_event(member_id, "j-a"))
    publish(TRANSIT_JOURNEYS, first)
    wait_for(lambda: points.get(f"/v1/members/{member_id}/balance").ok, what="the first credit")
    publish(TRANSIT_JOURNEYS, journey_event(member_id, "j-a", "transit.journey.corrected", 2, "rail"))
    publish(TRANSIT_JOURNEYS, Event.create("transit.journey.voided", "transit-ingest", member_id, {
        "member_id": member_id, "journey_id": "j-b", "operator_id": "leeds-bus", "reason": "refund", "revision": 2}))
    publish(TRANSIT_JOURNEYS, journey_event(member_id, "j-b"))
    marker = publish(TRANSIT_JOURNEYS, journey_event(member_id, "j-c"))
    history = wait_for(lambda: [t for t in points.get(f"/v1/members/{member_id}/transactions").json()["items"]
                                if t["source_id"] == marker.data["journey_id"]] and
                       points.get(f"/v1/members/{member_id}/transactions").json()["items"], what="the marker")
    assert balance(points, member_id)["available"] == 20 + 15, "j-a as rail (20) and j-c (15); j-b stays void"
    assert sorted(t["points"] for t in history) == [-15, 15, 15, 20]


def test_an_attendance_confirmation_credits_by_the_volunteering_rule(points, publish, member_id):
    start = datetime(2026, 11, 14, 10, tzinfo=UTC)
    publish(VOLUNTEERING_ATTENDANCES, Event.create("volunteering.attendance.confirmed", "points", member_id, {
        "member_id": member_id, "attendance_id": f"att-{member_id}", "opportunity_id": "park-clean",
        "organiser_id": "leeds-volunteers", "checked_in_at": start.isoformat(),
        "checked_out_at": (start + timedelta(minutes=90)).isoformat(), "minutes": 90}))
    assert wait_for(lambda: points.get(f"/v1/members/{member_id}/balance").ok and
                    balance(points, member_id)["available"], what="the volunteering credit") == 75


def redemption_event(event_type, member_id, redemption_id, cost):
    return Event.create(event_type, "redemption", member_id, {
        "member_id": member_id, "redemption_id": redemption_id, "reward_id": "coffee", "cost_points": cost})


def test_redemption_events_hold_capture_and_release(points, finance, publish, member_id):
    register(points, member_id)
    adjust(finance, member_id, 100)
    for name in ("r1", "r2", "r3"):
        publish(REDEMPTION_EVENTS, redemption_event("redemption.requested", member_id, f"{member_id}-{name}", 30))
    publish(REDEMPTION_EVENTS, redemption_event("redemption.requested", member_id, f"{member_id}-r4", 30))
    wait_for(lambda: balance(points, member_id)["held"] == 90, what="three holds")
    publish(REDEMPTION_EVENTS, redemption_event("redemption.completed", member_id, f"{member_id}-r1", 30))
    publish(REDEMPTION_EVENTS, redemption_event("redemption.completed", member_id, f"{member_id}-r1", 30))
    publish(REDEMPTION_EVENTS, redemption_event("redemption.cancelled", member_id, f"{member_id}-r2", 30))
    publish(REDEMPTION_EVENTS, redemption_event("redemption.expired", member_id, f"{member_id}-r3", 30))
    publish(REDEMPTION_EVENTS, redemption_event("redemption.cancelled", member_id, f"{member_id}-r3", 30))
    final = wait_for(lambda: (b := balance(points, member_id))["held"] == 0 and b, what="holds resolved")
    assert final["available"] == 70
    codes = [t["code"] for t in points.get(f"/v1/members/{member_id}/transactions").json()["items"]]
    assert sorted(codes) == sorted(["adjust", "hold", "hold", "hold", "capture", "release", "release"])


def test_erasing_a_member_withdraws_their_points_keeps_the_amounts_under_a_pseudonym_and_ignores_late_events(
        points, finance, publish, databases, member_id):
    register(points, member_id)
    credited = uuid.UUID(adjust(finance, member_id, 30).json()["transfer_id"])
    assert points.delete(f"/v1/members/{member_id}").status_code == 204
    assert points.delete(f"/v1/members/{member_id}").status_code == 204
    assert points.get(f"/v1/members/{member_id}/balance").status_code == 410
    assert points.post("/v1/members", json={"member_id": member_id}).status_code == 410
    assert points.delete("/v1/members/nobody-at-all").status_code == 404
    late = [publish(TRANSIT_JOURNEYS, journey_event(member_id, f"{member_id}-late")),
            publish(REDEMPTION_EVENTS, redemption_event("redemption.requested", member_id, f"{member_id}-r", 5))]

    def handled():
        with databases("points").transaction() as session:
            return session.execute(sa.select(sa.func.count()).select_from(processed_events).where(
                processed_events.c.event_id.in_([uuid.UUID(e.id) for e in late]))).scalar() == 2

    wait_for(handled, what="the late journey and the hold request")
    with databases("points").transaction() as session:
        assert session.get(Earning, ("journey", f"{member_id}-late")) is None
        assert session.execute(sa.select(sa.func.count()).select_from(Transfer)
                               .where(Transfer.member_id == member_id)).scalar() == 0
        pseudonym = session.get(Transfer, credited).member_id
        assert pseudonym.startswith("erased-")
        kept = session.execute(sa.select(Transfer.code, Transfer.amount).where(Transfer.member_id == pseudonym)
                               .order_by(Transfer.seq)).all()
        assert [tuple(row) for row in kept] == [("adjust", 30), ("erase", 30)], "nothing credited or held later"
        told = session.execute(sa.select(outbox.c.event_type).where(outbox.c.key == member_id)).scalars().all()
        assert set(told) <= {"member.registered", "points.adjusted", "member.erased"}, "no event after the erasure"
