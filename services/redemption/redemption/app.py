from __future__ import annotations

from rewards_shared import logs
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.web import create_service_app


def create_app(settings: Settings | None = None):
    settings = settings or Settings.from_env("redemption")
    logs.configure("redemption", settings.log_level)
    database = Database(settings.database_url)
    return create_service_app(service="redemption", title="Smart Leeds Rewards — redemption",
                              settings=settings, database=database, blueprints=[])
