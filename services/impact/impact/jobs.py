"""The impact worker's periodic jobs: only the shared housekeeping; facts are filed as events arrive."""
from __future__ import annotations

from rewards_shared import housekeeping
from rewards_shared.jobs import PeriodicJob


def build(rt) -> list[PeriodicJob]:
    return housekeeping.jobs(rt)
