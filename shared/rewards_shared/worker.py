"""The worker process every service runs: its consumer loop, its outbox relay, its periodic jobs, and the
housekeeping every worker shares (outbox gauges and purge, consumer lag)."""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from . import kafka, logs, metrics, outbox
from .config import Settings
from .consumer import ConsumerLoop, Registration
from .db import Database, revoked_credentials
from .events import Event
from .jobs import PeriodicJob, run_jobs
from .outbox import OutboxRelay, RetryPolicy
from .runtime import Runtime
from .topics import CREDENTIALS, TopicSpec, dead_letter_topic

log = logging.getLogger(__name__)


@dataclass
class WorkerSpec:
    service: str
    topics: list[str]
    handlers: Mapping[str, Registration]  # per event type: handler(session, event), or a batch handler
    jobs: list[PeriodicJob] = field(default_factory=list)


def record_revocation(session: Session, event: Event) -> None:
    data = event.load_data()
    session.execute(insert(revoked_credentials).values(jti=data["jti"], revoked_at=data["revoked_at"])
                    .on_conflict_do_nothing())


def build(spec: WorkerSpec, settings: Settings, database: Database) -> tuple[ConsumerLoop, OutboxRelay]:
    topics = list(dict.fromkeys(spec.topics + [CREDENTIALS]))
    client_id = f"{spec.service}-worker"
    loop = ConsumerLoop(
        name=spec.service,
        topics=topics,
        handlers={**spec.handlers, "credential.revoked": record_revocation},
        database=database,
        consumer_factory=lambda: kafka.consumer(settings.kafka_bootstrap, spec.service, client_id),
        producer_factory=lambda: kafka.producer(settings.kafka_bootstrap, client_id + "-dlq"),
        batch_size=kafka.CONSUMER_SETTINGS["max_poll_records"],
    )
    relay = OutboxRelay(database, lambda: kafka.producer(settings.kafka_bootstrap, client_id + "-relay",
                                                         **kafka.RELAY_SETTINGS),
                        service=spec.service, retry=RetryPolicy(
                            max_attempts=settings.get_int("OUTBOX_MAX_ATTEMPTS", 8),
                            first_delay=float(settings.get("OUTBOX_RETRY_SECONDS") or 1),
                            max_delay=float(settings.get("OUTBOX_RETRY_MAX_SECONDS") or 60)))
    return loop, relay


def housekeeping(spec: WorkerSpec, settings: Settings, database: Database) -> list[PeriodicJob]:
    """What every worker measures beside its own jobs: the outbox's backlog gauges and the group's consumer
    lag and dead-letter counts (sent rows are purged by each service's `housekeeping.jobs`)."""
    topics = list(dict.fromkeys(spec.topics + [CREDENTIALS]))
    probe = kafka.LagProbe(settings.kafka_bootstrap, spec.service, topics,
                           [dead_letter_topic(t, spec.service) for t in topics], f"{spec.service}-lag")

    def measure_lag() -> None:
        lag, letters = probe.measure()
        for partition, behind in lag.items():
            metrics.CONSUMER_LAG.labels(spec.service, partition.topic, str(partition.partition)).set(behind)
        for topic, count in letters.items():
            metrics.DEAD_LETTER_QUEUE.labels(topic).set(count)

    return [PeriodicJob("outbox-backlog", every_seconds=10.0, run=lambda: outbox.observe(database, spec.service)),
            PeriodicJob("kafka-lag", every_seconds=15.0, run=measure_lag)]


def run(spec: WorkerSpec, runtime: Runtime) -> None:
    """The worker process: its consumer loop on this thread, the outbox relay and the periodic jobs
    on threads of their own, until SIGTERM or SIGINT."""
    settings, database = runtime.settings, runtime.database
    logs.configure(spec.service, settings.log_level)
    topics = list(dict.fromkeys(spec.topics + [CREDENTIALS]))
    kafka.ensure_topics(settings.kafka_bootstrap,
                        tuple(TopicSpec(dead_letter_topic(t, spec.service), partitions=1) for t in topics))
    kafka.wait_for_topics(settings.kafka_bootstrap, topics)
    loop, relay = build(spec, settings, database)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if settings.metrics_port:
        metrics.serve(settings.metrics_port)
    threads = [threading.Thread(target=relay.run, args=(stop,), name="outbox-relay", daemon=True),
               threading.Thread(target=run_jobs, args=(housekeeping(spec, settings, database), stop),
                                name="housekeeping", daemon=True)]
    if spec.jobs:
        threads.append(threading.Thread(target=run_jobs, args=(spec.jobs, stop), name="jobs", daemon=True))
    for thread in threads:
        thread.start()
    ready_file = settings.get("WORKER_READY_FILE")
    if ready_file:
        def announce():
            if loop.ready.wait(120) and not stop.is_set():
                Path(ready_file).write_text(datetime.now(UTC).isoformat())
        threading.Thread(target=announce, daemon=True).start()
    log.info("worker started", extra={"topics": topics})
    try:
        loop.run(stop)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        database.dispose()
        log.info("worker stopped")
