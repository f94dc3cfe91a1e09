"""The notifications worker: the consumer writes inbox items and delivery rows; two periodic jobs gather
digests and hand due deliveries to the channels."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rewards_shared import topics, worker
from rewards_shared.config import Settings
from rewards_shared.db import Database

from . import channels, deliveries, handlers, members
from .deliveries import RetryPolicy
from .dispatcher import Dispatcher

TOPICS = [topics.LEDGER_EVENTS, topics.REDEMPTION_EVENTS, topics.MEMBERS]


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.get_int("NOTIFICATIONS_MAX_ATTEMPTS", 6),
        first_delay=timedelta(seconds=float(settings.get("NOTIFICATIONS_RETRY_SECONDS", "30"))),
        longest_delay=timedelta(seconds=float(settings.get("NOTIFICATIONS_RETRY_MAX_SECONDS", "3600"))))


def gather_digests(database: Database, settings: Settings) -> None:
    with database.transaction() as session:
        deliveries.gather_digests(session, datetime.now(UTC), members.preferences_of)


class DeliveryJob:
    """Starts a delivery round per channel each time it runs; the rounds run on threads of their own."""

    def __init__(self, configured: dict[str, channels.Channel], policy: RetryPolicy):
        self.configured = configured
        self.policy = policy
        self.dispatcher: Dispatcher | None = None

    def __call__(self, database: Database, settings: Settings) -> None:
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(database, self.configured, policy=self.policy)
        self.dispatcher.tick()


def spec(settings: Settings) -> worker.WorkerSpec:
    configured = channels.from_settings(settings)
    every = float(settings.get("NOTIFICATIONS_DISPATCH_SECONDS", "1"))
    return worker.WorkerSpec(
        service="notifications", topics=TOPICS, handlers=handlers.build(configured),
        jobs=[worker.PeriodicJob("deliveries", every, DeliveryJob(configured, retry_policy(settings))),
              worker.PeriodicJob("digests", float(settings.get("NOTIFICATIONS_DIGEST_SECONDS", "60")),
                                 gather_digests)])


def main() -> None:
    settings = Settings.from_env("notifications")
    worker.run(spec(settings), settings)


if __name__ == "__main__":
    main()
