from __future__ import annotations

from rewards_shared import logs
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.web import create_service_app

from .api import adjustments, members, rules, volunteering


def create_app(settings: Settings | None = None):
    settings = settings or Settings.from_env("points")
    logs.configure("points", settings.log_level)
    database = Database(settings.database_url)
    return create_service_app(service="points", title="Smart Leeds Rewards — points", settings=settings,
                              database=database, blueprints=[members.blp, rules.blp, adjustments.blp, volunteering.blp])
