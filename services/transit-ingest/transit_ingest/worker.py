"""The transit-ingest worker: the outbox relay, operator files, and the pairing queue (timeouts)."""
from __future__ import annotations

from rewards_shared import topics, worker
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.events import Event

from . import feeds, journeys, links
from .cards import CardHasher


def process_feeds(database: Database, settings: Settings) -> int:
    return feeds.process_waiting(database, CardHasher(settings.get_secret("CARD_HMAC_KEY")))


def pair_due_cards(database: Database, settings: Settings) -> int:
    """Cards with new taps nobody paired yet, and tap-ons whose timeout has run out (→ incomplete)."""
    total = 0
    while True:
        with database.transaction() as session:
            paired = journeys.drain(session)
        total += paired
        if paired == 0:
            return total


def member_erased(session, event: Event) -> None:
    links.forget_member(session, event.load_data()["member_id"])


SPEC = worker.WorkerSpec(service="transit-ingest", topics=[topics.MEMBERS],
                         handlers={"member.erased": member_erased}, jobs=[
    worker.PeriodicJob("feeds", every_seconds=1.0, run=process_feeds),
    worker.PeriodicJob("pairing", every_seconds=15.0, run=pair_due_cards),
])

if __name__ == "__main__":
    worker.run(SPEC)
