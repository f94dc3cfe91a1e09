"""The composition root: what the web app, the worker and the CLI are built from, read once per process."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from rewards_shared import auth, topics
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.erasure import Tombstones
from rewards_shared.runtime import Clock, Runtime, utc_now
from rewards_shared.worker import WorkerSpec

from . import handlers, jobs
from .activities import MembershipHasher
from .models import erased_members

TOPICS = [topics.TRANSIT_JOURNEYS, topics.VOLUNTEERING_ATTENDANCES, topics.ACTIVITIES, topics.REDEMPTION_EVENTS,
          topics.MEMBERS]


@dataclass(frozen=True)
class Points(Runtime):
    hold_timeout: timedelta = timedelta(days=30)  # then the safety net releases a redemption's hold
    code_key: str | None = field(default=None, repr=False)  # check-in codes derive from it; None: no codes
    tombstones: Tombstones = field(default_factory=lambda: Tombstones(erased_members, None))
    member_key: str | None = field(default=None, repr=False)  # signs member credentials; None: none minted
    member_ttl: timedelta = timedelta(seconds=auth.MEMBER_TTL_SECONDS)
    member_max_ttl: timedelta = timedelta(days=1)
    export_keep: timedelta = timedelta(days=7)  # a finished export is deleted after this
    memberships: MembershipHasher | None = field(default=None, repr=False)  # None: no membership refs


def bootstrap(settings: Settings | None = None, *, clock: Clock = utc_now,
              database: Database | None = None) -> Points:
    settings = settings or Settings.from_env("points")
    return Points(settings=settings, database=database or Database(settings.database_url), clock=clock,
                  hold_timeout=timedelta(hours=settings.get_int("HOLD_TIMEOUT_HOURS", 24 * 30)),
                  code_key=settings.get_secret("VOLUNTEERING_CODE_KEY"),
                  tombstones=Tombstones.from_settings(erased_members, settings),
                  member_key=settings.get_secret("MEMBER_CREDENTIAL_KEY"),
                  member_ttl=timedelta(seconds=settings.get_int("MEMBER_CREDENTIAL_TTL_SECONDS",
                                                                auth.MEMBER_TTL_SECONDS)),
                  member_max_ttl=timedelta(seconds=settings.get_int("MEMBER_CREDENTIAL_MAX_TTL_SECONDS", 86400)),
                  export_keep=timedelta(hours=settings.get_int("EXPORT_KEEP_HOURS", 7 * 24)),
                  memberships=MembershipHasher(key) if (key := settings.get_secret("MEMBERSHIP_HMAC_KEY")) else None)


def worker_spec(rt: Points) -> WorkerSpec:
    return WorkerSpec(service="points", topics=TOPICS, handlers=handlers.build(rt), jobs=jobs.build(rt))
