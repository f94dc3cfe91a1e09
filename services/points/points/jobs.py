"""The worker's periodic jobs: the hold safety net, expiry and expiry warnings, finished exports and
the shared housekeeping."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rewards_shared import housekeeping
from rewards_shared.jobs import PeriodicJob, drain

from . import ledger, services

if TYPE_CHECKING:
    from .bootstrap import Points


def build(rt: Points) -> list[PeriodicJob]:
    def draining(step: Callable[..., int]) -> Callable[[], int]:
        return lambda: drain(rt.database, lambda session: step(session, at=rt.clock()))

    return [
        PeriodicJob("release-timed-out-holds", 30, draining(ledger.release_timed_out_holds)),
        PeriodicJob("expire-lots", 300, draining(ledger.expire_due_lots)),
        PeriodicJob("warn-expiring-lots", 300, draining(ledger.warn_expiring_lots)),
        PeriodicJob("forget-expired-exports", 300, draining(services.forget_expired_exports)),
        *housekeeping.jobs(rt),
    ]
