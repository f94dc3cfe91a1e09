"""`Idempotency-Key` for creating POSTs (IETF httpapi draft semantics).

The first request with a key runs and its response is stored; a repeat with the same body gets the
stored response; a repeat with a different body gets 422; a repeat while the first is still running
gets 409. A key left in progress by a crashed process is released after a while, and the effect
itself must be idempotent on the key (the ledger derives transfer ids from it), so re-running is safe.
"""
from __future__ import annotations

import functools
import hashlib
import json
from datetime import timedelta

import sqlalchemy as sa
from flask import Response, current_app, g, request
from sqlalchemy.dialects.postgresql import insert

from .db import idempotency_keys
from .web.app import runtime
from .web.problems import problem, status_title

IN_PROGRESS = 0
ABANDONED_AFTER = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


def _fingerprint() -> str:
    body = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except ValueError:
        canonical = body
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + canonical).hexdigest()


def idempotent(view):
    """Requires an Idempotency-Key header and makes the view run at most once per key and credential."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return problem(400, "Bad Request", "This request needs an Idempotency-Key header: a new unique key "
                           "(a UUID) for each new request, the same one when retrying it.",
                           errors={"Idempotency-Key": ["Missing or empty."]})
        if len(key) > MAX_KEY_LENGTH:
            return problem(400, "Bad Request", f"Idempotency-Key is at most {MAX_KEY_LENGTH} characters.",
                           errors={"Idempotency-Key": ["Too long."]})
        database = runtime().database
        principal = g.principal.role if g.principal else "anonymous"
        fingerprint = _fingerprint()
        identity = {"principal": principal, "key": key}
        with database.transaction() as session:
            claimed = session.execute(insert(idempotency_keys).values(
                **identity, method=request.method, path=request.path, request_hash=fingerprint,
                status_code=IN_PROGRESS, response={},
            ).on_conflict_do_nothing().returning(idempotency_keys.c.key)).first()
            if not claimed:
                stored = session.execute(sa.select(idempotency_keys).where(
                    idempotency_keys.c.principal == principal, idempotency_keys.c.key == key)
                    .with_for_update()).one()
                if stored.request_hash != fingerprint:
                    return problem(422, status_title(422),
                                   "This Idempotency-Key was used with a different request.",
                                   errors={"Idempotency-Key": ["Already used for a different request."]})
                if stored.status_code != IN_PROGRESS:
                    return _replay(stored)
                abandoned = session.execute(sa.select(
                    sa.func.now() - stored.created_at > ABANDONED_AFTER)).scalar()
                if not abandoned:
                    return problem(409, "Conflict", "A request with this Idempotency-Key is still in progress.",
                                   headers={"Retry-After": "1"})
                session.execute(idempotency_keys.update().where(
                    idempotency_keys.c.principal == principal, idempotency_keys.c.key == key)
                    .values(created_at=sa.func.now()))
        g.idempotency_key = key
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except Exception:
            _forget(database, identity)
            raise
        if response.status_code >= 500:
            _forget(database, identity)
            return response
        with database.transaction() as session:
            session.execute(idempotency_keys.update().where(
                idempotency_keys.c.principal == principal, idempotency_keys.c.key == key)
                .values(status_code=response.status_code, response={
                    "body": response.get_data(as_text=True), "content_type": response.content_type}))
        return response
    return wrapper


def _replay(stored) -> Response:
    response = Response(stored.response["body"], status=stored.status_code,
                        content_type=stored.response["content_type"])
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _forget(database, identity: dict) -> None:
    with database.transaction() as session:
        session.execute(idempotency_keys.delete().where(
            idempotency_keys.c.principal == identity["principal"], idempotency_keys.c.key == identity["key"]))
