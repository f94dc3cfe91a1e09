"""A balance never goes below zero, counting holds, however many processes race for it."""
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from points import ledger
from points.models import Transfer
from points.verify import verify
from rewards_shared.db import Database
from rewards_shared.runtime import utc_now

PROCESSES, THREADS_EACH = 5, 10


def _hold_many(url: str, member_id: str, points: int, attempts: int) -> list[bool]:
    database = Database(url, pool_size=attempts)

    def attempt(_):
        try:
            with database.transaction() as session:
                ledger.hold(session, member_id=member_id, points=points, id=uuid.uuid4(),
                            timeout_at=utc_now() + timedelta(hours=1), source_type="redemption",
                            source_id=uuid.uuid4().hex)
            return True
        except ledger.InsufficientPoints:
            return False

    try:
        with ThreadPoolExecutor(attempts) as threads:
            return list(threads.map(attempt, range(attempts)))
    finally:
        database.dispose()


def test_fifty_concurrent_holds_from_several_processes_never_overdraw(databases, member_id):
    points_db = databases("points")
    with points_db.transaction() as session:
        ledger.earn(session, member_id=member_id, points=200, source_type="test", source_id="seed",
                    cause=f"seed:{member_id}")
    with ProcessPoolExecutor(PROCESSES) as processes:
        results = [ok for batch in processes.map(_hold_many, [points_db.url] * PROCESSES, [member_id] * PROCESSES,
                                                 [7] * PROCESSES, [THREADS_EACH] * PROCESSES) for ok in batch]
    assert len(results) == 50
    with points_db.transaction() as session:
        held = session.execute(sa.select(sa.func.sum(Transfer.amount)).where(
            Transfer.member_id == member_id, Transfer.pending.is_(True))).scalar()
        current = ledger.balance(session, member_id)
        assert sum(results) == 200 // 7 and held == 7 * sum(results) <= 200
        assert (current.available, current.held) == (200 - held, held)
        assert verify(session).ok
