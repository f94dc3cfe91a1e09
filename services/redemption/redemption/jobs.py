"""The worker's periodic jobs."""
from __future__ import annotations

import logging

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


def jobs(settings: Settings | None = None) -> list[PeriodicJob]:
    settings = settings or Settings.from_env("redemption")
    return [PeriodicJob("expire-vouchers", settings.get_int("VOUCHER_EXPIRY_EVERY_SECONDS", 60), expire_vouchers)]
