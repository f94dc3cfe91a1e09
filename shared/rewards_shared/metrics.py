"""Prometheus metrics, named by Prometheus conventions, for the dashboard and alert rules in
deploy/observability/. Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set before import (see gunicorn_base);
the worker serves its own on WORKER_METRICS_PORT."""
from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

HTTP_REQUESTS = Counter("rewards_http_requests_total", "HTTP requests served",
                        ["service", "method", "endpoint", "status"])
HTTP_LATENCY = Histogram("rewards_http_request_seconds", "HTTP request latency",
                         ["service", "method", "endpoint"],
                         buckets=(.002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10))

EVENTS_HANDLED = Counter("rewards_events_handled_total", "Consumed events by outcome (handled, duplicate, ignored)",
                         ["consumer", "type", "outcome"])
EVENT_SECONDS = Histogram("rewards_event_handle_seconds",
                          "Time to handle one event (its share of a batch handler's call)", ["consumer", "type"],
                          buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
CONSUMER_TRANSACTIONS = Histogram("rewards_consumer_transaction_events", "Events applied per consumer transaction",
                                  ["consumer"], buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))
CONSUMER_LAG = Gauge("rewards_consumer_lag_messages",
                     "Messages on a partition after the group's committed offset", ["group", "topic", "partition"])
DEAD_LETTERS = Counter("rewards_dead_letters_total", "Messages sent to a dead-letter topic", ["consumer", "topic"])
DEAD_LETTER_QUEUE = Gauge("rewards_dead_letter_queue_messages", "Messages kept on a dead-letter topic", ["topic"])

OUTBOX_PUBLISHED = Counter("rewards_outbox_published_total", "Outbox rows published to Kafka", ["service"])
OUTBOX_FAILED = Counter("rewards_outbox_failed_total", "Outbox rows given up on after their last attempt",
                        ["service", "topic"])
OUTBOX_ROWS = Gauge("rewards_outbox_rows", "Outbox rows not yet sent, by status (pending, failed)",
                    ["service", "status"])
OUTBOX_OLDEST_PENDING = Gauge("rewards_outbox_oldest_pending_seconds", "Age of the oldest pending outbox row",
                              ["service"])
OUTBOX_PUBLISH_SECONDS = Histogram("rewards_outbox_publish_seconds", "One relay round: read, publish, mark sent",
                                   ["service"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))

FEED_ROWS = Counter("rewards_feed_rows_total", "Operators' tap rows processed, by format and outcome",
                    ["format", "outcome"])
REDEMPTIONS_FINISHED = Counter("rewards_redemptions_finished_total", "Redemptions reaching a final state",
                               ["state"])

_ON_COMMIT = "rewards_metrics_on_commit"


def count_feed_rows(format: str, session: Session | None = None, **outcomes: int) -> None:
    """Count tap rows by outcome (accepted=…, duplicate=…); with a session, only once it commits."""
    for outcome, count in outcomes.items():
        if count:
            child = FEED_ROWS.labels(format, outcome)
            if session is None:
                child.inc(count)
            else:
                count_on_commit(session, child, count)


def count_on_commit(session: Session, counter, amount: float = 1) -> None:
    """Increment `counter` (a labelled child) when the session's transaction commits, never if it rolls back."""
    session.info.setdefault(_ON_COMMIT, []).append((counter, amount))


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for counter, amount in session.info.pop(_ON_COMMIT, ()):
        counter.inc(amount)


@event.listens_for(Session, "after_transaction_end")
def _forget_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_ON_COMMIT, None)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve(port: int) -> None:
    """Worker metrics; METRICS_BIND=0.0.0.0 inside a container so Prometheus can reach them."""
    start_http_server(port, addr=os.environ.get("METRICS_BIND", "127.0.0.1"))
