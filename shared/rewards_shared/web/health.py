"""Liveness, readiness (database and Kafka reachable) and Prometheus metrics."""
from __future__ import annotations

from flask import Flask, Response

from .. import metrics
from ..db import Database
from .probes import kafka_reachable
from .problems import problem


def install(app: Flask, database: Database, settings) -> None:
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
        if not all(v == "ok" for v in checks.values()):
            return problem(503, "Service Unavailable", "A dependency is unreachable.", checks=checks)
        return {"status": "ready", "checks": checks}

    @app.get("/metrics")
    def prometheus():
        body, content_type = metrics.render()
        return Response(body, mimetype=content_type.split(";")[0], content_type=content_type)
