from __future__ import annotations

from rewards_shared import logs
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.web import create_service_app

from .api import deliveries, inbox, members


def create_app(settings: Settings | None = None):
    settings = settings or Settings.from_env("notifications")
    logs.configure("notifications", settings.log_level)
    database = Database(settings.database_url)
    return create_service_app(service="notifications", title="Smart Leeds Rewards — notifications",
                              settings=settings, database=database, blueprints=[inbox.blp, members.blp, deliveries.blp])
