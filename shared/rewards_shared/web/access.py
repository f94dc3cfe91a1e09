"""Who is calling: the bearer credential checked on every request, revocations from the service's own
database, when each credential was last used, and `require(...)` on each view naming the role kinds it
admits (no role is admitted everywhere: see `rewards_shared.auth` for what each reaches)."""
from __future__ import annotations

import functools
import logging
import threading
import time

import sqlalchemy as sa
from flask import Flask, g, request
from sqlalchemy.dialects.postgresql import insert

from ..auth import InvalidCredential, Principal, Verifier
from ..db import Database, credential_use, revoked_credentials
from .problems import problem
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)
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


class UsageRecorder:
    """Notes in this service's database when a credential was last used: at most once a minute per
    credential and process, so it costs one small upsert a minute, not one per request.
    `rewards credentials list` gathers these from every service."""

    def __init__(self, database: Database, every: float = 60.0):
        self.database = database
        self.every = every
        self._noted: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, principal: Principal) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._noted.get(principal.jti, -self.every) < self.every:
                return
            if len(self._noted) > 10_000:
                self._noted = {jti: at for jti, at in self._noted.items() if now - at < self.every}
            self._noted[principal.jti] = now
        # A member-bound credential is noted by its kind only: the note must not outlive the member's erasure.
        role = principal.kind if principal.kind == "member" else principal.role
        statement = insert(credential_use).values(jti=principal.jti, role=role, last_used_at=sa.func.now())
        try:
            with self.database.engine.begin() as connection:
                connection.execute(statement.on_conflict_do_update(
                    index_elements=[credential_use.c.jti], set_={"last_used_at": statement.excluded.last_used_at}))
        except sa.exc.SQLAlchemyError as error:
            log.warning("could not note a credential's use", extra={"error": type(error).__name__})


def current_principal() -> Principal:
    return g.principal


def require(*kinds: str):
    """Allow only credentials whose role kind is listed; which of its objects a credential reaches is
    the service layer's to decide."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = getattr(g, "principal", None)
            if principal is None:
                return problem(401, "Unauthorized", "A bearer credential is required.", headers=CHALLENGE)
            if principal.kind not in kinds:
                return problem(403, "Forbidden", f"This needs one of the roles: {', '.join(kinds)}.")
            return view(*args, **kwargs)
        return wrapper
    return decorate


def install(app: Flask, verifier: Verifier | None, limiter: RateLimiter | None,
            record_use: UsageRecorder | None = None) -> None:
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
        if record_use is not None:
            record_use(g.principal)
        wait = limiter.retry_after(g.principal.jti) if limiter else 0.0
        if wait:
            return problem(429, "Too Many Requests", "This credential has made too many requests; slow down.",
                           headers={"Retry-After": str(max(1, round(wait)))})
        return None
