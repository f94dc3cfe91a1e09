"""Every request gets an id, a span continuing the caller's W3C `traceparent` (or a new trace), a
metric and one JSON log line; member ids, card references and voucher codes never reach the log, even inside
a path (so an erased member leaves no trace in the logs)."""
from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, g, request
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from .. import logs, metrics, tracing

log = logging.getLogger("rewards_shared.web")
SECRET_PATH_PARTS = ("member_id", "card_ref", "code")
QUIET = ("/healthz", "/metrics")


def loggable_path() -> str:
    """The request path with member ids, card references and voucher codes taken out."""
    path = request.path
    for name in SECRET_PATH_PARTS:
        value = (request.view_args or {}).get(name)
        if value:
            path = path.replace(str(value), f"[{name}]")
    return path


def install(app: Flask, service: str) -> None:
    @app.before_request
    def start():
        g.started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        g.request_id_token = logs.request_id.set(g.request_id)
        route = request.url_rule.rule if request.url_rule else "unmatched"
        g.span = tracing.tracer().start_span(
            f"{request.method} {route}", context=tracing.context_from(request.headers.get(tracing.TRACEPARENT)),
            kind=SpanKind.SERVER, attributes={"http.request.method": request.method, "http.route": route})
        g.span_token = otel_context.attach(trace.set_span_in_context(g.span))

    @app.after_request
    def finish(response: Response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - getattr(g, "started", time.perf_counter())
        metrics.HTTP_REQUESTS.labels(service, request.method, endpoint, response.status_code).inc()
        metrics.HTTP_LATENCY.labels(service, request.method, endpoint).observe(elapsed)
        response.headers["X-Request-Id"] = getattr(g, "request_id", "")
        if endpoint not in QUIET:
            principal = getattr(g, "principal", None)
            log.info("request", extra={"method": request.method, "path": loggable_path(),
                                       "status": response.status_code, "ms": round(elapsed * 1000, 2),
                                       "principal": _loggable_role(principal)})
        if "span" in g:
            g.span.set_attribute("http.response.status_code", response.status_code)
        return response

    @app.teardown_request
    def end(error: BaseException | None):
        span_token = g.pop("span_token", None)
        if span_token is not None:
            g.pop("span").end()
            otel_context.detach(span_token)
        request_id_token = g.pop("request_id_token", None)
        if request_id_token is not None:
            logs.request_id.reset(request_id_token)


def _loggable_role(principal) -> str | None:
    """A member-bound credential is logged by its kind and id, never by its member."""
    if principal is None:
        return None
    return f"member#{principal.jti}" if principal.kind == "member" else principal.role
