"""The whole saga with the real ledger while the redemption worker is SIGKILLed mid-way: after a
restart every redemption is in exactly one final state and the member's balance agrees with them."""
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

from rewards_shared import devstack
from rewards_shared.service import discover
from tests.e2e.test_redemption_flow import give_points, new_reward
from tests.support.polling import wait_for

SERVICES = ["points", "redemption"]


def test_a_worker_killed_mid_saga_leaves_every_redemption_final_and_the_ledger_in_agreement(
        client, services, stack, stack_env, member_id):
    catalogue, app, points = client("redemption", "catalogue"), client("redemption"), client("points")
    partner_id = f"theatre-{uuid.uuid4().hex[:8]}"
    assert catalogue.post("/v1/partners", json={"partner_id": partner_id, "name": "Leeds Playhouse"}).status_code == 201
    reward_id = new_reward(catalogue, partner_id, stock=50, per_member_limit=None, cost_points=30)
    give_points(client, member_id, 100)

    devstack.stop_process(stack, "redemption-worker")
    with open(stack.logs / "redemption-worker-killed.log", "ab") as log:
        doomed = subprocess.Popen([sys.executable, "-m", "redemption.worker"], stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, **stack_env,
                                       "REWARDS_FAULTS": "consumer.after_db_commit[points.held]=kill@2"})
    try:
        with ThreadPoolExecutor(max_workers=5) as pool:
            answers = list(pool.map(lambda _: app.post(
                "/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id},
                headers={"Idempotency-Key": uuid.uuid4().hex}), range(5)))
        assert [a.status_code for a in answers] == [202] * 5
        assert doomed.wait(timeout=120) == -9, "the fault point should have killed the worker"
    finally:
        doomed.kill()
    devstack.services_up(stack, stack_env, {name: info for name, info in discover().items() if name in services})

    ids = [a.json()["redemption_id"] for a in answers]

    def final():
        found = {rid: app.get(f"/v1/redemptions/{rid}").json() for rid in ids}
        return None if any(r["status"] == "pending" for r in found.values()) else found

    settled = wait_for(final, timeout=90, interval=0.3, what="every redemption to settle after the restart")
    issued = [rid for rid, r in settled.items() if r["status"] == "issued"]
    assert sorted(r["status"] for r in settled.values()) == ["issued"] * 3 + ["rejected"] * 2
    balance = points.get(f"/v1/members/{member_id}/balance").json()
    assert (balance["available"], balance["held"]) == (10, 90)
    history = app.get(f"/v1/members/{member_id}/redemptions").json()["items"]
    assert len(history) == 5

    used, cancelled = issued[0], issued[1]
    till = client("redemption", f"partner:{partner_id}")
    assert till.post(f"/v1/pos/vouchers/{settled[used]['voucher_code']}/redeem",
                     headers={"Idempotency-Key": used}).status_code == 200
    assert app.post(f"/v1/redemptions/{cancelled}/cancel").status_code == 200
    wait_for(lambda: points.get(f"/v1/members/{member_id}/balance").json()["held"] == 30,
             what="the ledger to capture one hold and release another")
    assert points.get(f"/v1/members/{member_id}/balance").json()["available"] == 40
    assert catalogue.get(f"/v1/rewards/{reward_id}").json()["stock"] == 48
