"""Concurrency proofs over HTTP against the running services, real PostgreSQL and Kafka:
stock is never oversold, a member's points never go below zero, and one key makes one redemption."""
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.test_redemption_flow import give_points, new_reward
from tests.support.polling import wait_for

SERVICES = ["points", "redemption"]


@pytest.fixture
def catalogue(client):
    return client("redemption", "catalogue")


@pytest.fixture
def partner_id(catalogue):
    partner = f"leisure-{uuid.uuid4().hex[:8]}"
    created = catalogue.post("/v1/partners", json={"partner_id": partner, "name": "John Charles Centre"})
    assert created.status_code == 201
    return partner


def all_at_once(count, call):
    """Run `call(i)` for i in range(count) on as many threads, released together."""
    gate = threading.Barrier(count)

    def run(index):
        gate.wait()
        return call(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def settle(app, redemption_ids):
    def final():
        found = [app.get(f"/v1/redemptions/{rid}").json() for rid in redemption_ids]
        return None if any(r["status"] == "pending" for r in found) else found
    return wait_for(final, timeout=60, interval=0.2, what="every redemption to leave pending")


def test_a_hundred_members_racing_for_ten_units_get_exactly_ten_vouchers(client, catalogue, partner_id):
    reward_id = new_reward(catalogue, partner_id, stock=10, per_member_limit=1)
    members = [f"m-{uuid.uuid4().hex[:12]}" for _ in range(100)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda member: give_points(client, member, 50), members))

    def attempt(index):
        app = client("redemption")
        return app.post("/v1/redemptions", json={"member_id": members[index], "reward_id": reward_id},
                        headers={"Idempotency-Key": uuid.uuid4().hex})

    answers = all_at_once(100, attempt)
    accepted = [a.json()["redemption_id"] for a in answers if a.status_code == 202]
    refused = [a.json() for a in answers if a.status_code != 202]
    assert len(accepted) == 10
    assert len(refused) == 90 and {r["reason"] for r in refused} == {"out_of_stock"}
    assert [r["status"] for r in settle(client("redemption"), accepted)] == ["issued"] * 10
    assert catalogue.get(f"/v1/rewards/{reward_id}").json()["stock"] == 0


def test_twenty_racing_redemptions_of_a_member_with_a_hundred_points_issue_three(client, catalogue, partner_id,
                                                                                   member_id):
    give_points(client, member_id, 100)
    reward_id = new_reward(catalogue, partner_id, stock=50, per_member_limit=None, cost_points=30)
    points = client("points")
    seen_available = []
    done = threading.Event()

    def watch_balance():
        while not done.is_set():
            body = points.get(f"/v1/members/{member_id}/balance").json()
            seen_available.append(body["available"])

    watcher = threading.Thread(target=watch_balance, daemon=True)
    watcher.start()

    def attempt(_):
        return client("redemption").post("/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id},
                                          headers={"Idempotency-Key": uuid.uuid4().hex})

    try:
        answers = all_at_once(20, attempt)
        assert [a.status_code for a in answers] == [202] * 20
        final = settle(client("redemption"), [a.json()["redemption_id"] for a in answers])
    finally:
        done.set()
        watcher.join(timeout=10)
    statuses = sorted(r["status"] for r in final)
    assert statuses == ["issued"] * 3 + ["rejected"] * 17
    assert {r["reason"].split(":")[0] for r in final if r["status"] == "rejected"} == {"insufficient_points"}
    balance = points.get(f"/v1/members/{member_id}/balance").json()
    assert (balance["available"], balance["held"]) == (10, 90)
    assert seen_available and min(seen_available) >= 0
    assert catalogue.get(f"/v1/rewards/{reward_id}").json()["stock"] == 47


def test_one_idempotency_key_sent_ten_times_at_once_makes_one_redemption(client, catalogue, partner_id, member_id):
    give_points(client, member_id, 100)
    reward_id = new_reward(catalogue, partner_id, stock=20, per_member_limit=None)
    key = f"tap-{uuid.uuid4().hex}"

    def attempt(_):
        return client("redemption").post("/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id},
                                          headers={"Idempotency-Key": key})

    answers = all_at_once(10, attempt)
    assert {a.status_code for a in answers} <= {202, 409}
    ids = {a.json()["redemption_id"] for a in answers if a.status_code == 202}
    assert len(ids) == 1
    assert all(a.headers.get("Retry-After") for a in answers if a.status_code == 409)
    app = client("redemption")
    history = app.get(f"/v1/members/{member_id}/redemptions").json()["items"]
    assert [r["redemption_id"] for r in history] == list(ids)
    assert catalogue.get(f"/v1/rewards/{reward_id}").json()["stock"] == 19
    assert settle(app, ids)[0]["status"] == "issued"
    balance = client("points").get(f"/v1/members/{member_id}/balance").json()
    assert (balance["available"], balance["held"]) == (70, 30)
