"""Every request gets an id, a trace id, a metric and one JSON log line; member ids, card references and
voucher codes never reach the log, even inside a path (so an erased member leaves no trace in the logs)."""
from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, g, request

from .. import logs, metrics

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
        logs.request_id.set(g.request_id)
        traceparent = request.headers.get("traceparent", "")
        logs.trace_id.set(traceparent.split("-")[1] if traceparent.count("-") >= 3 else g.request_id)

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
        return response


def _loggable_role(principal) -> str | None:
    """A member-bound credential is logged by its kind and id, never by its member."""
    if principal is None:
        return None
    return f"member#{principal.jti}" if principal.kind == "member" else principal.role
