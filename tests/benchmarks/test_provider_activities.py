"""A provider's batches with the points web and worker running: how fast rows are taken (validated, stored,
each with its event in the outbox) and how soon the ledger has credited every one of them by the rules."""
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.benchmarks.support import record
from tests.support.polling import wait_for

SERVICES = ["points"]
MEMBERS = int(os.environ.get("BENCH_ACTIVITY_MEMBERS", "100"))
PER_MEMBER = int(os.environ.get("BENCH_ACTIVITIES_PER_MEMBER", "10"))
BATCH = 1_000


def test_activity_batches_and_their_credits(client, databases):
    provider_id = f"bench-bikes-{uuid.uuid4().hex[:6]}"
    assert client("points", "admin").post("/v1/providers", json={
        "provider_id": provider_id, "name": "Bench bikes", "kinds": ["cycle.trip"]}).status_code == 201
    app, provider = client("points"), client("points", f"provider:{provider_id}")
    members = [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(MEMBERS)]
    for member_id in members:
        assert app.post("/v1/members", json={"member_id": member_id}).status_code == 201
    start = datetime.now(UTC) - timedelta(hours=12)
    rows = [{"activity_id": f"{member_id}-{n}", "member_id": member_id, "kind": "cycle.trip",
             "occurred_at": (start + timedelta(minutes=n)).isoformat(), "quantity": 3.5, "unit": "km"}
            for member_id in members for n in range(PER_MEMBER)]

    began = time.perf_counter()
    requests = []
    for offset in range(0, len(rows), BATCH):
        sent = time.perf_counter()
        batch = rows[offset:offset + BATCH]
        answer = provider.post(f"/v1/providers/{provider_id}/activities", json={"activities": batch})
        requests.append(time.perf_counter() - sent)
        assert answer.status_code == 202 and answer.json()["accepted"] == len(batch), answer.text
    taken = time.perf_counter() - began

    points = databases("points")

    def credited() -> int:
        with points.engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM earnings WHERE source_type = 'activity' "
                                              "AND source_id LIKE :prefix"), {"prefix": f"{provider_id}:%"}).scalar()

    wait_for(lambda: credited() == len(rows), timeout=280, interval=0.5, what="every activity credited")
    settled = time.perf_counter() - began
    again = time.perf_counter()
    repeat = provider.post(f"/v1/providers/{provider_id}/activities", json={"activities": rows[:BATCH]}).json()
    duplicates_seconds = time.perf_counter() - again
    assert repeat["duplicates"] == min(BATCH, len(rows))
    figures = {
        "activities": len(rows), "members": MEMBERS, "batch_rows": BATCH,
        "taken_per_second": round(len(rows) / taken, 1),
        "request_seconds": [round(s, 3) for s in requests],
        "credited_by_ledger_seconds": round(settled, 2),
        "end_to_end_per_second": round(len(rows) / settled, 1),
        "duplicate_batch_seconds": round(duplicates_seconds, 3),
    }
    assert record("provider_activities", figures).exists()
