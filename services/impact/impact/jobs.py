"""The impact worker's periodic jobs: none yet; facts are filed as events arrive."""
from __future__ import annotations

from rewards_shared.jobs import PeriodicJob


def build(rt) -> list[PeriodicJob]:
    return []
