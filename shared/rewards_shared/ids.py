"""Deterministic ids, free of any web framework."""
from __future__ import annotations

import uuid


def request_uuid(namespace: uuid.UUID, principal: str, key: str) -> uuid.UUID:
    """The id of what a creating request makes, derived from its credential and Idempotency-Key, so a
    retry after a lost answer or a crash names the same object. Each kind of object has its namespace."""
    return uuid.uuid5(namespace, f"{principal}\n{key}")
