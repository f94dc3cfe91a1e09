"""Balance reads for a member with 10,000 transfers, over HTTP under gunicorn (goal: p99 < 20 ms)."""
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from points import ledger
from tests.benchmarks.support import record, summary_ms

SERVICES = ["points"]
TRANSFERS = int(os.environ.get("BENCH_TRANSFERS", "10000"))
READS = int(os.environ.get("BENCH_READS", "3000"))


def seed(database, member_id: str) -> None:
    for start in range(0, TRANSFERS, 1000):
        with database.transaction() as session:
            for n in range(start, min(start + 1000, TRANSFERS)):
                ledger.earn(session, member_id=member_id, points=1 + n % 20, source_type="bench",
                            source_id=str(n), cause=f"bench:{member_id}:{n}")


def test_balance_reads_for_a_member_with_ten_thousand_transfers(client, databases):
    member_id = f"bench-{uuid.uuid4().hex[:10]}"
    started = time.perf_counter()
    seed(databases("points"), member_id)
    seeded_in = time.perf_counter() - started
    points = client("points")
    path = f"/v1/members/{member_id}/balance"
    for _ in range(100):
        assert points.get(path).ok

    sequential = []
    for _ in range(READS):
        began = time.perf_counter()
        response = points.get(path)
        sequential.append(time.perf_counter() - began)
        assert response.status_code == 200

    def read(_):
        own = client("points")
        timings = []
        for _ in range(READS // 8):
            began = time.perf_counter()
            own.get(path)
            timings.append(time.perf_counter() - began)
        return timings

    began = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        concurrent = [t for batch in pool.map(read, range(8)) for t in batch]
    wall = time.perf_counter() - began
    record("points_balance_reads", {
        "transfers": TRANSFERS, "seeded_in_s": round(seeded_in, 1),
        "sequential": summary_ms(sequential),
        "concurrent_8_clients": {**summary_ms(concurrent), "requests_per_s": round(len(concurrent) / wall)},
        "goal": "p99 < 20 ms",
    })
