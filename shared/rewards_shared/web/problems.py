"""RFC 9457 problem+json: the one error format of every service, for domain errors, validation
errors, unknown routes and anything unexpected (never a stack trace)."""
from __future__ import annotations

import http
import logging

import marshmallow as ma
from flask import Flask, Response, g, json
from flask_smorest import Api
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import HTTPException

from ..errors import DomainError
from ..failures import is_transient

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
_LOCATIONS = ("json", "query", "headers", "form", "files", "view_args", "path", "querystring")


# RFC 9110's phrases where werkzeug and Python 3.11 still use the older ones (RFC 7231: "Unprocessable Entity").
_PHRASES = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_title(status: int) -> str:
    """The one title a plain problem of this status has, whichever layer answers it."""
    return _PHRASES.get(status) or http.HTTPStatus(status).phrase


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


class ProblemSchema(ma.Schema):
    """What every error answers, as `application/problem+json` (RFC 9457); a problem may add members."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, metadata={"description": "about:blank, or a URI naming the problem"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    errors = ma.fields.Dict(keys=ma.fields.String(), metadata={"description": "By field: what is wrong with it"})
    instance = ma.fields.String(metadata={"description": "urn:request:<id>, the request's id in the logs"})


class ProblemApi(Api):
    """flask-smorest's Api, answering its own HTTP errors (validation, 404, 405…) as problems, and
    documenting every error response as one."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        """The error responses flask-smorest documents (one per status, and the default), as problems."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["content"] = {PROBLEM: {"schema": self.ERROR_SCHEMA}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, {
            "description": "Any error, as a problem", "content": {PROBLEM: {"schema": self.ERROR_SCHEMA}}},
            lazy=True)

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
        return problem(error.code or 500, status_title(error.code or 500), detail, errors=errors or data.get("errors"),
                       headers=headers, **extra)


def install(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return problem(error.status, error.title, error.detail, errors=error.errors, **error.extra)

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        if isinstance(error, DataError):
            # SQLSTATE class 22: a value the column cannot hold (out of range, too long): the request's fault.
            log.warning("request carried a value the database cannot store", extra={"error": repr(error)[:300]})
            return problem(422, status_title(422), "A value in the request is out of the range that can be "
                           "stored.")
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
