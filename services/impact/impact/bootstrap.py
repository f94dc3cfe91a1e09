"""The composition root: settings, clock, database, the pseudonym key and report policy, built once per
process for the web app, the worker and the CLI."""
from __future__ import annotations

from dataclasses import dataclass

from rewards_shared import topics
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.runtime import Clock, Runtime, utc_now
from rewards_shared.worker import WorkerSpec

from . import handlers, jobs
from .calendar import PeakHours
from .facts import Facts
from .pseudonyms import Pseudonyms

SMALLEST_CELL = 5
TOPICS = [topics.TRANSIT_JOURNEYS, topics.VOLUNTEERING_ATTENDANCES, topics.ACTIVITIES, topics.LEDGER_EVENTS,
          topics.REDEMPTION_EVENTS, topics.MEMBERS]


@dataclass(frozen=True)
class Impact(Runtime):
    facts: Facts | None = None
    min_cell: int = 10
    peak_hours: PeakHours = PeakHours()


def bootstrap(settings: Settings | None = None, *, clock: Clock = utc_now, database: Database | None = None) -> Impact:
    settings = settings or Settings.from_env("impact")
    min_cell = settings.get_int("REPORT_MIN_CELL", 10)
    if min_cell < SMALLEST_CELL:
        raise ValueError(f"REPORT_MIN_CELL is {min_cell}; it is never below {SMALLEST_CELL}")
    peak_hours = PeakHours.parse(settings.get("IMPACT_PEAK_HOURS"))
    key = settings.get_secret("IMPACT_PSEUDONYM_KEY")
    return Impact(settings=settings, database=database or Database(settings.database_url), clock=clock,
                  facts=Facts(Pseudonyms(key), peak_hours) if key else None, min_cell=min_cell,
                  peak_hours=peak_hours)


def worker_spec(rt: Impact) -> WorkerSpec:
    """Only the worker files facts, so only it needs the pseudonym key; the web serves aggregates."""
    if rt.facts is None:
        raise ValueError("IMPACT_PSEUDONYM_KEY (or IMPACT_PSEUDONYM_KEY_FILE) must be set for the impact worker")
    return WorkerSpec(service="impact", topics=TOPICS, handlers=handlers.build(rt), jobs=jobs.build(rt))
