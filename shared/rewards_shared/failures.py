"""Which failures are worth retrying: the database or broker was away, or a transaction lost a race."""
from __future__ import annotations

from kafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, OperationalError

TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08000", "08003", "08006"}


def is_transient(error: BaseException) -> bool:
    if isinstance(error, (OperationalError, KafkaError, ConnectionError, TimeoutError)):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        return getattr(error.orig, "sqlstate", None) in TRANSIENT_SQLSTATES
    return False
