"""The worker's periodic jobs: operator files waiting to be read, and cards due for pairing."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rewards_shared.jobs import PeriodicJob, drain

from . import feeds, journeys

if TYPE_CHECKING:
    from .bootstrap import TransitIngest


def build(rt: TransitIngest) -> list[PeriodicJob]:
    def process_feeds() -> int:
        return feeds.process_waiting(rt.database, rt.cards, clock=rt.clock)

    def pair_due_cards() -> int:
        """Cards with new taps nobody paired yet, and tap-ons whose timeout has run out (→ incomplete)."""
        return drain(rt.database, lambda session: journeys.drain(session, now=rt.clock()))

    return [PeriodicJob("feeds", every_seconds=1.0, run=process_feeds),
            PeriodicJob("pairing", every_seconds=15.0, run=pair_due_cards)]
