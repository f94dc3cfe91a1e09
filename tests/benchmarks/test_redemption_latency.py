"""Request → `issued` for a redemption with the whole stack running: the POST, the event through
Kafka to the ledger's hold and back, the voucher, seen by a long-polling GET (goal: p99 < 1 s)."""
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.benchmarks.support import record, summary_ms

ROUNDS = int(os.environ.get("BENCH_REDEMPTIONS", "200"))
CLIENTS = int(os.environ.get("BENCH_REDEMPTION_CLIENTS", "4"))


def prepare(client) -> str:
    catalogue = client("redemption", "catalogue")
    partner_id, reward_id = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    assert catalogue.post("/v1/partners", json={"partner_id": partner_id, "name": "Bench café"}).status_code == 201
    assert catalogue.post("/v1/rewards", json={"reward_id": reward_id, "partner_id": partner_id, "title": "Espresso",
                                           "cost_points": 1, "stock": 100_000}).status_code == 201
    return reward_id


def funded_member(client) -> str:
    member_id = f"bench-{uuid.uuid4().hex[:10]}"
    client("points").post("/v1/members", json={"member_id": member_id})
    credited = client("points", "finance").post("/v1/adjustments", json={
        "member_id": member_id, "points": 100_000, "reason": "benchmark"}, headers={"Idempotency-Key": member_id})
    assert credited.status_code == 201, credited.text
    return member_id


def one_redemption(app, member_id: str, reward_id: str) -> tuple[float, float]:
    """(seconds to the 202, seconds until the redemption is seen issued)."""
    began = time.perf_counter()
    accepted = app.post("/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id},
                        headers={"Idempotency-Key": uuid.uuid4().hex})
    answered = time.perf_counter() - began
    assert accepted.status_code == 202, accepted.text
    settled = app.get(f"/v1/redemptions/{accepted.json()['redemption_id']}", params={"wait": 10}).json()
    assert settled["status"] == "issued", settled
    return answered, time.perf_counter() - began


def run(client, reward_id: str, clients: int, rounds: int) -> tuple[list[float], list[float], float]:
    members = [funded_member(client) for _ in range(clients)]
    apps = [client("redemption") for _ in range(clients)]

    def loop(index):
        return [one_redemption(apps[index], members[index], reward_id) for _ in range(rounds // clients)]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = [pair for batch in pool.map(loop, range(clients)) for pair in batch]
    elapsed = time.perf_counter() - started
    return [a for a, _ in results], [b for _, b in results], len(results) / elapsed


def test_request_to_issued_latency(client):
    reward_id = prepare(client)
    run(client, reward_id, 1, 20)
    accepted_alone, issued_alone, _ = run(client, reward_id, 1, ROUNDS)
    accepted_busy, issued_busy, throughput = run(client, reward_id, CLIENTS, ROUNDS)
    path = record("redemption_request_to_issued", {
        "goal": "p99 request -> issued < 1000 ms",
        "one_client": {"request_to_202": summary_ms(accepted_alone), "request_to_issued": summary_ms(issued_alone)},
        f"{CLIENTS}_clients": {"request_to_202": summary_ms(accepted_busy),
                               "request_to_issued": summary_ms(issued_busy),
                               "redemptions_per_second": round(throughput, 1)},
    })
    assert path.exists()
