"""The worker's periodic jobs."""
from __future__ import annotations

import logging
from datetime import timedelta

from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.worker import PeriodicJob

from . import redemptions

log = logging.getLogger(__name__)


def expire_vouchers(database: Database, settings: Settings) -> int:
    """Unused vouchers past their date expire; the ledger then releases their holds."""
    total = 0
    while True:
        with database.transaction() as session:
            expired = redemptions.expire_due(session)
        total += expired
        if expired < 500:
            break
    if total:
        log.info("vouchers expired", extra={"count": total})
    return total


def abandon_unanswered(database: Database, settings: Settings) -> int:
    """Pending redemptions the ledger has not answered for a long while are cancelled."""
    older_than = timedelta(minutes=settings.get_int("PENDING_TIMEOUT_MINUTES", 15))
    with database.transaction() as session:
        abandoned = redemptions.abandon_unanswered(session, older_than=older_than)
    if abandoned:
        log.warning("unanswered redemptions cancelled", extra={"count": abandoned})
    return abandoned


def jobs(settings: Settings | None = None) -> list[PeriodicJob]:
    settings = settings or Settings.from_env("redemption")
    every = settings.get_int("VOUCHER_EXPIRY_EVERY_SECONDS", 60)
    return [PeriodicJob("expire-vouchers", every, expire_vouchers),
            PeriodicJob("abandon-unanswered", every, abandon_unanswered)]
