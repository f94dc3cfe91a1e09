"""What challenges cost the ledger's hot path: journeys credited per second (500 a transaction, as a consumer
poll applies them) when no challenge matches, and when ten live ones (five counts, five weekly streaks) do."""
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from points import earnings
from points.models import Challenge
from tests.benchmarks.support import record

MEMBERS = int(os.environ.get("BENCH_CHALLENGE_MEMBERS", "40"))
JOURNEYS_EACH = int(os.environ.get("BENCH_CHALLENGE_JOURNEYS", "6"))
BATCH = 500


def define(database, operator_id: str, now: datetime) -> None:
    with database.transaction() as session:
        for n in range(5):
            session.add(Challenge(challenge_id=f"bench-{operator_id}-count-{n}", title="Count", kind="count",
                                  activity="transit.journey", filter={"operator_id": operator_id, "mode": "bus"},
                                  target=JOURNEYS_EACH - 1, starts_at=now - timedelta(days=30), ends_at=now,
                                  bonus_points=50, created_by="bench"))
            session.add(Challenge(challenge_id=f"bench-{operator_id}-streak-{n}", title="Streak", kind="streak",
                                  activity="transit.journey", filter={"operator_id": operator_id, "sustainable": True},
                                  period="week", periods=3, min_per_period=1, starts_at=now - timedelta(days=30),
                                  ends_at=now, bonus_points=50, created_by="bench"))


def credit(database, operator_id: str, now: datetime) -> float:
    """Seconds to credit every member's journeys, spread over the last three weeks."""
    journeys = [{"member_id": f"bench-{operator_id}-{m}", "journey_id": f"{operator_id}-{m}-{j}",
                 "operator_id": operator_id, "kind": "paired", "mode": "bus", "revision": 1,
                 "started_at": now - timedelta(days=20) + timedelta(days=3 * j, minutes=m % 600)}
                for j in range(JOURNEYS_EACH) for m in range(MEMBERS)]
    began = time.perf_counter()
    for start in range(0, len(journeys), BATCH):
        with database.transaction() as session:
            for journey in journeys[start:start + BATCH]:
                earnings.credit_journey(session, journey, at=now)
    return time.perf_counter() - began


def test_journeys_credited_per_second_with_and_without_live_challenges(databases):
    database = databases("points")
    now = datetime.now(UTC)
    plain, challenged = f"plain{uuid.uuid4().hex[:6]}", f"chal{uuid.uuid4().hex[:6]}"
    define(database, challenged, now)
    total = MEMBERS * JOURNEYS_EACH
    without = credit(database, plain, now)
    with_ten = credit(database, challenged, now)
    figures = {
        "journeys": total, "members": MEMBERS, "per_transaction": BATCH,
        "no_matching_challenge": {"seconds": round(without, 2), "journeys_per_s": round(total / without)},
        "ten_live_challenges": {"seconds": round(with_ten, 2), "journeys_per_s": round(total / with_ten),
                                "completions": MEMBERS * 10},
        "cost_ratio": round(with_ten / without, 2),
    }
    print(figures)
    record("challenge_progress", figures)
