"""The worker's periodic jobs."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rewards_shared import housekeeping
from rewards_shared.jobs import PeriodicJob, drain

from . import redemptions

if TYPE_CHECKING:
    from .bootstrap import RedemptionRuntime

log = logging.getLogger(__name__)

BATCH = 500


def build(rt: RedemptionRuntime) -> list[PeriodicJob]:
    return [PeriodicJob("expire-vouchers", rt.jobs_every_seconds, lambda: expire_vouchers(rt)),
            PeriodicJob("abandon-unanswered", rt.jobs_every_seconds, lambda: abandon_unanswered(rt)),
            *housekeeping.jobs(rt)]


def expire_vouchers(rt: RedemptionRuntime) -> int:
    """Unused vouchers past their date expire; the ledger then releases their holds."""
    total = drain(rt.database, lambda session: redemptions.expire_due(session, at=rt.clock(), limit=BATCH),
                  batch=BATCH)
    if total:
        log.info("vouchers expired", extra={"count": total})
    return total


def abandon_unanswered(rt: RedemptionRuntime) -> int:
    """Pending redemptions the ledger has not answered for a long while are cancelled."""
    with rt.database.transaction() as session:
        abandoned = redemptions.abandon_unanswered(session, older_than=rt.pending_timeout, at=rt.clock(),
                                                   limit=BATCH)
    if abandoned:
        log.warning("unanswered redemptions cancelled", extra={"count": abandoned})
    return abandoned
