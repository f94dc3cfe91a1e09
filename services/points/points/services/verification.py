"""`rewards ledger verify`: every ledger invariant checked on one consistent snapshot."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..verify import Report, snapshot, verify

if TYPE_CHECKING:
    from ..bootstrap import Points


def verify_ledger(rt: Points) -> Report:
    with snapshot(rt.database) as session:
        return verify(session, at=rt.clock())
