"""Who is calling: the bearer credential checked on every request, revocations from the service's own
database, and `require(...)` on each view naming the role kinds it admits."""
from __future__ import annotations

import functools
import threading
import time

import sqlalchemy as sa
from flask import Flask, g, request

from ..auth import InvalidCredential, Principal, Verifier
from ..db import Database, revoked_credentials
from .problems import problem
from .ratelimit import RateLimiter

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="smart-leeds-rewards"'}


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
                return problem(401, "Unauthorized", "A bearer credential is required.", headers=CHALLENGE)
            if principal.kind != "admin" and principal.kind not in kinds:
                return problem(403, "Forbidden", f"This needs one of the roles: {', '.join(kinds + ('admin',))}.")
            return view(*args, **kwargs)
        return wrapper
    return decorate


def install(app: Flask, verifier: Verifier | None, limiter: RateLimiter | None) -> None:
    @app.before_request
    def authenticate():
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
