"""Prometheus metrics. Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set before import (see gunicorn_base)."""
from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

HTTP_REQUESTS = Counter("rewards_http_requests_total", "HTTP requests served",
                        ["service", "method", "endpoint", "status"])
HTTP_LATENCY = Histogram("rewards_http_request_seconds", "HTTP request latency",
                         ["service", "method", "endpoint"],
                         buckets=(.002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10))
EVENTS_HANDLED = Counter("rewards_events_handled_total", "Consumed events by outcome",
                         ["consumer", "type", "outcome"])
EVENT_SECONDS = Histogram("rewards_event_handle_seconds", "Time to handle one event in its transaction",
                          ["consumer"])
DEAD_LETTERS = Counter("rewards_dead_letters_total", "Messages sent to a dead-letter topic", ["topic"])
OUTBOX_PUBLISHED = Counter("rewards_outbox_published_total", "Outbox rows published to Kafka")


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
