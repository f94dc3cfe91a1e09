"""The Flask side every service shares: problem+json errors, bearer auth, health, metrics, logs."""
from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from flask import Flask, Response, g, json, request
from flask_smorest import Api, Blueprint
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from . import docs, logs, metrics
from .auth import InvalidCredential, Principal, Verifier
from .db import Database, revoked_credentials
from .errors import DomainError
from .failures import is_transient
from .health import kafka_reachable

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, *, errors: dict | None = None,
            type: str = "about:blank", headers: dict | None = None, **extra) -> Response:
    body = {"type": type, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    if getattr(g, "request_id", None):
        body["instance"] = f"urn:request:{g.request_id}"
    return Response(json.dumps(body), status=status, mimetype=PROBLEM, headers=headers)


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow nested messages → {"taps.3.occurred_at": ["…"]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_errors(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            flat.update(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


_LOCATIONS = ("json", "query", "headers", "form", "files", "view_args", "path", "querystring")


class ProblemApi(Api):
    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = None
        if "messages" in data:
            messages = data["messages"]
            if isinstance(messages, dict) and set(messages) <= set(_LOCATIONS):
                merged = {}
                for part in messages.values():
                    merged.update(flatten_errors(part))
                errors = merged
            else:
                errors = flatten_errors(messages)
        detail = data.get("message") or error.description
        if errors and not data.get("message"):
            detail = "The request has invalid fields: " + ", ".join(sorted(errors))
        extra = {k: v for k, v in data.items() if k not in ("message", "messages", "errors", "headers")
                 and isinstance(v, str | int | float | bool | list | dict)}
        headers = dict(data.get("headers") or {})
        if error.code == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="smart-leeds-rewards"')
        return problem(error.code or 500, error.name, detail, errors=errors or data.get("errors"),
                       headers=headers, **extra)


class RevocationList:
    """Revoked credential ids from this service's own database, refreshed every few seconds."""

    def __init__(self, database: Database, ttl: float = 2.0):
        self.database = database
        self.ttl = ttl
        self._revoked: frozenset[str] = frozenset()
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def __call__(self, jti: str) -> bool:
        if time.monotonic() - self._loaded_at > self.ttl:
            with self._lock:
                if time.monotonic() - self._loaded_at > self.ttl:
                    with self.database.engine.connect() as connection:
                        rows = connection.execute(sa.select(revoked_credentials.c.jti)).scalars()
                        self._revoked = frozenset(rows)
                    self._loaded_at = time.monotonic()
        return jti in self._revoked


def current_principal() -> Principal:
    return g.principal


def require(*kinds: str):
    """Allow only credentials whose role kind is listed (admin is always allowed)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = getattr(g, "principal", None)
            if principal is None:
                return problem(401, "Unauthorized", "A bearer credential is required.",
                               headers={"WWW-Authenticate": 'Bearer realm="smart-leeds-rewards"'})
            if principal.kind != "admin" and principal.kind not in kinds:
                return problem(403, "Forbidden", f"This needs one of the roles: {', '.join(kinds + ('admin',))}.")
            return view(*args, **kwargs)
        return wrapper
    return decorate


def create_service_app(*, service: str, title: str, settings, database: Database,
                       blueprints: Iterable[Blueprint], version: str = "1.0.0") -> Flask:
    app = Flask(service)
    app.config.update(
        API_TITLE=title,
        API_VERSION=version,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        **docs.SETTINGS,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_SPEC_OPTIONS={"components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearer": []}]},
    )
    app.extensions["database"] = database
    app.extensions["settings"] = settings
    api = ProblemApi(app)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    verifier = Verifier(settings.token_public_key, RevocationList(database)) if settings.token_public_key else None
    per_minute = settings.get_int("RATE_LIMIT_PER_MINUTE", 60_000)
    _install_hooks(app, service, verifier, RateLimiter(per_minute) if per_minute > 0 else None)
    _install_health(app, database, settings)
    docs.install(app)
    return app


SECRET_PATH_PARTS = ("card_ref", "code")


def loggable_path() -> str:
    """The request path with card references and voucher codes taken out."""
    path = request.path
    for name in SECRET_PATH_PARTS:
        value = (request.view_args or {}).get(name)
        if value:
            path = path.replace(str(value), f"[{name}]")
    return path


class RateLimiter:
    """A token bucket per credential, in this process: `per_minute` requests a minute on average,
    bursts up to a minute's worth. Several web processes each keep their own buckets."""

    def __init__(self, per_minute: int):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def _install_hooks(app: Flask, service: str, verifier: Verifier | None,
                   limiter: RateLimiter | None = None) -> None:
    @app.before_request
    def start():
        g.started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        logs.request_id.set(g.request_id)
        traceparent = request.headers.get("traceparent", "")
        logs.trace_id.set(traceparent.split("-")[1] if traceparent.count("-") >= 3 else g.request_id)
        g.principal = None
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token or verifier is None:
            return problem(401, "Unauthorized", "Use Authorization: Bearer <token>.")
        try:
            g.principal = verifier.verify(token.strip())
        except InvalidCredential as error:
            return problem(401, "Unauthorized", f"The credential is not valid: {error}.")
        wait = limiter.retry_after(g.principal.jti) if limiter else 0.0
        if wait:
            return problem(429, "Too Many Requests", "This credential has made too many requests; slow down.",
                           headers={"Retry-After": str(max(1, round(wait)))})
        return None

    @app.after_request
    def finish(response: Response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - getattr(g, "started", time.perf_counter())
        metrics.HTTP_REQUESTS.labels(service, request.method, endpoint, response.status_code).inc()
        metrics.HTTP_LATENCY.labels(service, request.method, endpoint).observe(elapsed)
        response.headers["X-Request-Id"] = getattr(g, "request_id", "")
        if endpoint not in ("/healthz", "/metrics"):
            principal = getattr(g, "principal", None)
            log.info("request", extra={"method": request.method, "path": loggable_path(),
                                       "status": response.status_code, "ms": round(elapsed * 1000, 2),
                                       "principal": principal.role if principal else None})
        return response

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return problem(error.status, error.title, error.detail, errors=error.errors, **error.extra)

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        if is_transient(error):
            log.warning("request lost a race or the database is unavailable", extra={"error": repr(error)[:300]})
            return problem(503, "Service Unavailable", "A concurrent change or a database hiccup got in the way; "
                           "retry the request.", headers={"Retry-After": "1"})
        log.exception("database error")
        return problem(500, "Internal Server Error", "Something went wrong on our side; it has been logged.")

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "Something went wrong on our side; it has been logged.")


def _install_health(app: Flask, database: Database, settings) -> None:
    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "service": settings.service}

    @app.get("/readyz")
    def readyz():
        checks = {}
        try:
            database.ping()
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"unreachable: {type(error).__name__}"
        checks["kafka"] = "ok" if kafka_reachable(settings.kafka_bootstrap) else "unreachable"
        ready = all(v == "ok" for v in checks.values())
        if not ready:
            return problem(503, "Service Unavailable", "A dependency is unreachable.", checks=checks)
        return {"status": "ready", "checks": checks}

    @app.get("/metrics")
    def prometheus():
        body, content_type = metrics.render()
        return Response(body, mimetype=content_type.split(";")[0], content_type=content_type)
