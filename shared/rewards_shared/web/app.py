"""`create_service_app`: the one way a service's Flask app is built from its runtime."""
from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, current_app
from flask_smorest import Blueprint

from .. import logs
from ..auth import Verifier
from ..runtime import Runtime
from . import access, docs, health, inputs, observe, problems
from .ratelimit import RateLimiter


def create_service_app(runtime: Runtime, *, title: str, blueprints: Iterable[Blueprint],
                       version: str = "1.0.0") -> Flask:
    settings = runtime.settings
    logs.configure(settings.service, settings.log_level)
    app = Flask(settings.service)
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
    app.extensions["runtime"] = runtime
    api = problems.ProblemApi(app)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    verifier = Verifier(settings.token_public_key, access.RevocationList(runtime.database),
                        member_public_key_pem=settings.member_token_public_key) \
        if settings.token_public_key else None
    per_minute = settings.get_int("RATE_LIMIT_PER_MINUTE", 60_000)
    observe.install(app, settings.service)
    access.install(app, verifier, RateLimiter(per_minute) if per_minute > 0 else None,
                   access.UsageRecorder(runtime.database))
    inputs.install(app)
    problems.install(app)
    health.install(app, runtime.database, settings)
    docs.install(app)
    return app


def runtime() -> Runtime:
    """The runtime of the app serving this request: how a view reaches the database, the clock, keys."""
    return current_app.extensions["runtime"]
