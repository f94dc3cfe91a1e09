from __future__ import annotations

from rewards_shared import logs
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.web import create_service_app

from .api import catalogue, pos, redemptions, settlement
from .vouchers import VoucherKey


def create_app(settings: Settings | None = None):
    settings = settings or Settings.from_env("redemption")
    logs.configure("redemption", settings.log_level)
    voucher_key = VoucherKey(settings.get_secret("VOUCHER_KEY"))
    database = Database(settings.database_url)
    app = create_service_app(service="redemption", title="Smart Leeds Rewards — redemption",
                             settings=settings, database=database,
                             blueprints=[catalogue.blp, redemptions.blp, pos.blp, settlement.blp])
    app.extensions["voucher_key"] = voucher_key
    return app
