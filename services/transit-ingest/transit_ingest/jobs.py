"""The worker's periodic jobs: operator files waiting to be read, cards due for pairing, retention and the
shared housekeeping."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from rewards_shared import housekeeping
from rewards_shared.jobs import PeriodicJob, drain

from . import feeds, journeys, retention

if TYPE_CHECKING:
    from .bootstrap import TransitIngest


def build(rt: TransitIngest) -> list[PeriodicJob]:
    def process_feeds() -> int:
        return feeds.process_waiting(rt.database, rt.cards, clock=rt.clock)

    def pair_due_cards() -> int:
        """Cards with new taps nobody paired yet, and tap-ons whose timeout has run out (→ incomplete)."""
        return drain(rt.database, lambda session: journeys.drain(session, now=rt.clock()))

    def retain() -> int:
        """Taps past TAP_RETENTION_DAYS, journeys' details with them, and operators' processed files."""
        before = rt.clock() - rt.tap_retention
        return sum(drain(rt.database, functools.partial(step, before=before), batch=retention.BATCH)
                   for step in (retention.forget_old_taps, retention.minimise_old_journeys,
                                retention.forget_feed_files))

    return [PeriodicJob("feeds", every_seconds=1.0, run=process_feeds),
            PeriodicJob("pairing", every_seconds=15.0, run=pair_due_cards),
            PeriodicJob("retention", every_seconds=rt.retention_every, run=retain),
            *housekeeping.jobs(rt)]
