"""The worker's periodic jobs: hand due deliveries to the channels, and gather small earnings into digests."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rewards_shared import housekeeping
from rewards_shared.jobs import PeriodicJob

from . import deliveries, members
from .dispatcher import Dispatcher

if TYPE_CHECKING:
    from .bootstrap import Notifications


def build(rt: Notifications) -> list[PeriodicJob]:
    # Each tick starts a round per channel on the dispatcher's own threads and returns at once.
    sender = Dispatcher(rt.database, rt.channels, clock=rt.clock, policy=rt.retry)

    def gather_digests() -> None:
        with rt.database.transaction() as session:
            deliveries.gather_digests(session, rt.clock(), members.preferences_of)

    return [PeriodicJob("deliveries", rt.dispatch_every, sender.tick),
            PeriodicJob("digests", rt.digest_every, gather_digests),
            *housekeeping.jobs(rt)]
