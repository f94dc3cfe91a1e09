"""The composition root: everything the web app, the worker and the CLI share, read from settings once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rewards_shared import topics
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.erasure import Tombstones
from rewards_shared.runtime import Clock, Runtime, utc_now
from rewards_shared.worker import WorkerSpec

from . import handlers, jobs
from .models import erased_members
from .vouchers import VoucherKey

TOPICS = [topics.LEDGER_EVENTS, topics.MEMBERS]


@dataclass(frozen=True, kw_only=True)
class RedemptionRuntime(Runtime):
    voucher_key: VoucherKey
    pending_timeout: timedelta  # how long a redemption waits for the ledger's answer before it is cancelled
    jobs_every_seconds: int
    tombstones: Tombstones


def bootstrap(settings: Settings | None = None, *, clock: Clock = utc_now,
              database: Database | None = None) -> RedemptionRuntime:
    settings = settings or Settings.from_env("redemption")
    return RedemptionRuntime(
        settings=settings, database=database or Database(settings.database_url), clock=clock,
        voucher_key=VoucherKey(settings.get_secret("VOUCHER_KEY")),
        pending_timeout=timedelta(minutes=settings.get_int("PENDING_TIMEOUT_MINUTES", 15)),
        jobs_every_seconds=settings.get_int("VOUCHER_EXPIRY_EVERY_SECONDS", 60),
        tombstones=Tombstones.from_settings(erased_members, settings))


def worker_spec(rt: RedemptionRuntime) -> WorkerSpec:
    return WorkerSpec(service="redemption", topics=TOPICS, handlers=handlers.build(rt),
                      jobs=jobs.build(rt))
