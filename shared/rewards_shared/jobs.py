"""Periodic jobs a worker runs beside its consumer loop, and the one way a job drains a backlog."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from . import tracing
from .db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    run: Callable[[], object]


def drain(database: Database, step: Callable[[Session], int], *, batch: int | None = None) -> int:
    """Run `step` in a transaction of its own until it reports nothing left (0, or fewer than `batch`);
    the total it handled. Short transactions keep locks brief and let a crash lose at most one batch."""
    total = 0
    while True:
        with database.transaction() as session:
            done = step(session)
        total += done
        if done == 0 or (batch is not None and done < batch):
            return total


def run_jobs(jobs: list[PeriodicJob], stop: threading.Event) -> None:
    due = {job.name: 0.0 for job in jobs}
    while not stop.is_set():
        now = time.monotonic()
        for job in jobs:
            if now >= due[job.name]:
                try:
                    with tracing.span(f"job {job.name}"):  # each run starts a trace of its own
                        job.run()
                except Exception:
                    log.exception("periodic job failed", extra={"job": job.name})
                due[job.name] = now + job.every_seconds
        stop.wait(min([due[j.name] for j in jobs] + [now + 1.0]) - time.monotonic())
