"""The composition root: what the web app, the worker and the CLI share, built once per process."""
from __future__ import annotations

from dataclasses import dataclass

from rewards_shared import topics
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.runtime import Clock, Runtime, utc_now
from rewards_shared.worker import WorkerSpec

from . import SERVICE, handlers, jobs
from .cards import CardHasher

DEFAULT_MAX_FEED_BYTES = 4 * 1024**3


TOPICS = [topics.MEMBERS]


@dataclass(frozen=True, kw_only=True)
class TransitIngest(Runtime):
    cards: CardHasher
    max_feed_bytes: int = DEFAULT_MAX_FEED_BYTES


def bootstrap(settings: Settings | None = None, *, clock: Clock = utc_now,
              database: Database | None = None) -> TransitIngest:
    settings = settings or Settings.from_env(SERVICE.name)
    return TransitIngest(settings=settings, database=database or Database(settings.database_url), clock=clock,
                         cards=CardHasher(settings.get_secret("CARD_HMAC_KEY")),
                         max_feed_bytes=settings.get_int("FEED_MAX_BYTES", DEFAULT_MAX_FEED_BYTES))


def worker_spec(rt: TransitIngest) -> WorkerSpec:
    return WorkerSpec(service=SERVICE.name, topics=TOPICS, handlers=handlers.build(rt),
                      jobs=jobs.build(rt))
