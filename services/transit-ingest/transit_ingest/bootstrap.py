"""The composition root: what the web app, the worker and the CLI share, built once per process."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rewards_shared import topics
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.erasure import Tombstones
from rewards_shared.runtime import Clock, Runtime, utc_now
from rewards_shared.worker import WorkerSpec

from . import SERVICE, handlers, jobs
from .cards import CardHasher
from .models import erased_members

DEFAULT_MAX_FEED_BYTES = 4 * 1024**3


TOPICS = [topics.MEMBERS]


@dataclass(frozen=True, kw_only=True)
class TransitIngest(Runtime):
    cards: CardHasher
    tombstones: Tombstones
    max_feed_bytes: int = DEFAULT_MAX_FEED_BYTES
    tap_retention: timedelta = timedelta(days=90)  # raw taps are deleted after this
    retention_every: float = 3600.0


def bootstrap(settings: Settings | None = None, *, clock: Clock = utc_now,
              database: Database | None = None) -> TransitIngest:
    settings = settings or Settings.from_env(SERVICE.name)
    return TransitIngest(settings=settings, database=database or Database(settings.database_url), clock=clock,
                         cards=CardHasher(settings.get_secret("CARD_HMAC_KEY")),
                         tombstones=Tombstones.from_settings(erased_members, settings),
                         max_feed_bytes=settings.get_int("FEED_MAX_BYTES", DEFAULT_MAX_FEED_BYTES),
                         tap_retention=timedelta(days=settings.get_int("TAP_RETENTION_DAYS", 90)),
                         retention_every=float(settings.get_int("RETENTION_EVERY_SECONDS", 3600)))


def worker_spec(rt: TransitIngest) -> WorkerSpec:
    return WorkerSpec(service=SERVICE.name, topics=TOPICS, handlers=handlers.build(rt),
                      jobs=jobs.build(rt))
