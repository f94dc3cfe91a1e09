"""The points worker's periodic jobs: the hold safety net, expiry and expiry warnings."""
from __future__ import annotations

from rewards_shared.worker import PeriodicJob

from . import ledger


def _batches(step):
    def run(database, settings):
        while True:
            with database.transaction() as session:
                if step(session) == 0:
                    return
    return run


JOBS = [
    PeriodicJob("release-timed-out-holds", 30, _batches(ledger.release_timed_out_holds)),
    PeriodicJob("expire-lots", 300, _batches(ledger.expire_due_lots)),
    PeriodicJob("warn-expiring-lots", 300, _batches(ledger.warn_expiring_lots)),
]
