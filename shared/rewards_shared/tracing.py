"""W3C trace context across HTTP, the outbox and Kafka, with OpenTelemetry.

A request continues the caller's `traceparent` (or starts a trace); every outbox row written in that
work stores the trace's `traceparent` in its headers; the relay sends it as a Kafka header; the consumer
continues it while it handles the event, so the events it causes carry it on. Periodic jobs and file
feeds start traces of their own. Log lines carry the current trace and span ids (see logs.py).

Spans are exported over OTLP only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; otherwise they exist only
to carry the ids.
"""
from __future__ import annotations

import contextvars
import functools
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
_propagator = TraceContextTextMapPropagator()
_lock = threading.Lock()
_provider: TracerProvider | None = None

# Within a batch handler several events are handled by one call: the outbox finds each new row's
# cause by the event it names, or else by the Kafka key it shares with one of the batch's events.
_batch_causes: contextvars.ContextVar[tuple[Mapping[str, str], Mapping[str, str]] | None] = \
    contextvars.ContextVar("batch_causes", default=None)


def configure(service: str) -> None:
    """Install the SDK tracer provider once per process; export over OTLP when the endpoint is set."""
    global _provider
    with _lock:
        if _provider is None:
            _provider = TracerProvider(resource=Resource.create({"service.name": service}))
            trace.set_tracer_provider(_provider)
            if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
                from opentelemetry.sdk.trace.export import BatchSpanProcessor

                _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
                log.info("exporting traces over OTLP", extra={"endpoint": os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]})


def tracer() -> trace.Tracer:
    if _provider is None:
        configure(os.environ.get("OTEL_SERVICE_NAME", "rewards"))
    return _provider.get_tracer("rewards_shared")


def context_from(traceparent: str | None) -> Context:
    """The context a `traceparent` names; an empty one (a new trace) when it is missing or malformed."""
    return _propagator.extract({TRACEPARENT: traceparent}) if traceparent else Context()


def traceparent_in(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
    for name, value in headers or ():
        if name == TRACEPARENT and value:
            return value.decode("ascii", errors="replace")
    return None


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


def fresh_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def traceparent_for_outbox(*, caused_by: str | None, key: str | None) -> str:
    """What an outbox row carries: its cause's trace inside a batch, else the current one, else a new one."""
    causes = _batch_causes.get()
    if causes is not None:
        by_event, by_key = causes
        found = (caused_by and by_event.get(caused_by)) or (key and by_key.get(key))
        if found:
            return found
    return current_traceparent() or fresh_traceparent()


@contextmanager
def span(name: str, *, parent: str | None = None, kind: SpanKind = SpanKind.INTERNAL,
         attributes: Mapping[str, object] | None = None) -> Iterator[trace.Span]:
    """A span continuing `parent` (a traceparent), or a new trace without one."""
    with tracer().start_as_current_span(name, context=context_from(parent), kind=kind,
                                        attributes=dict(attributes or {})) as current:
        yield current


@contextmanager
def batch_span(name: str, causes: Iterable[tuple[str, str | None, str | None]],
               attributes: Mapping[str, object] | None = None) -> Iterator[trace.Span]:
    """One span for a batch of events, linked to each event's trace; `causes` is (event id, Kafka key,
    traceparent) per event, so the outbox rows the batch writes continue their own event's trace."""
    causes = list(causes)
    by_event = {event_id: parent for event_id, _, parent in causes if parent}
    by_key = {key: parent for _, key, parent in causes if key and parent}
    parents = list(dict.fromkeys(parent for _, _, parent in causes))
    if len(parents) == 1:  # one event, or one trace: continue it
        context, links = context_from(parents[0]), []
    else:
        context, links = Context(), []
        for parent in parents:
            linked = trace.get_current_span(context_from(parent)).get_span_context()
            if linked.is_valid:
                links.append(Link(linked))
    token = _batch_causes.set((by_event, by_key))
    try:
        with tracer().start_as_current_span(name, context=context, kind=SpanKind.CONSUMER, links=links,
                                            attributes=dict(attributes or {})) as current:
            yield current
    finally:
        _batch_causes.reset(token)


def new_trace(name: str):
    """Decorator: each call starts a trace of its own (a periodic job, a file feed), linked to the
    trace that called it, if any."""
    def decorate(function):
        @functools.wraps(function)
        def traced(*args, **kwargs):
            calling = trace.get_current_span().get_span_context()
            links = [Link(calling)] if calling.is_valid else []
            with tracer().start_as_current_span(name, context=Context(), links=links):
                return function(*args, **kwargs)
        return traced
    return decorate


def log_ids() -> dict[str, str]:
    """The current trace and span ids, as log lines carry them."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}
