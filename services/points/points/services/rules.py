"""Earning rules, changed by staff as effective-dated versions."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rewards_shared.auth import Principal

from .. import rules
from ..models import Rule

if TYPE_CHECKING:
    from ..bootstrap import Points


def list_rules(rt: Points, *, at: datetime | None = None) -> list[Rule]:
    """Every version of every rule, or only those in force at `at`."""
    with rt.database.transaction() as session:
        return rules.in_force(session, at) if at else rules.all_versions(session)


def add_rule_version(rt: Points, principal: Principal, *, rule_id: str, kind: str, definition: dict,
                     effective_from: datetime | None, effective_to: datetime | None) -> Rule:
    """A new rule, or a new version of one, in force from `effective_from` (default: now)."""
    with rt.database.transaction() as session:
        return rules.add_version(session, rule_id=rule_id, kind=kind, definition=definition,
                                 effective_from=effective_from or rt.clock(), effective_to=effective_to,
                                 actor=principal.id)
