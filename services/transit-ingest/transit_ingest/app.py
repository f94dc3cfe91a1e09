from __future__ import annotations

from rewards_shared import logs
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.web import create_service_app

from .api import card_links, feeds, operators, taps
from .cards import CardHasher


def create_app(settings: Settings | None = None):
    settings = settings or Settings.from_env("transit-ingest")
    logs.configure("transit-ingest", settings.log_level)
    database = Database(settings.database_url)
    app = create_service_app(service="transit-ingest", title="Smart Leeds Rewards — transit ingest",
                             settings=settings, database=database,
                             blueprints=[operators.blp, card_links.blp, taps.blp, feeds.blp])
    app.extensions["card_hasher"] = CardHasher(settings.get_secret("CARD_HMAC_KEY"))
    return app
