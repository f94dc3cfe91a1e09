"""Tiers follow what a member has earned in their lifetime; a change is told once, when it happens."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import Member
from .postings import emit

TIERS = (("bronze", 0), ("silver", 500), ("gold", 2000), ("platinum", 5000))


def tier_for(lifetime: int) -> str:
    return [name for name, threshold in TIERS if lifetime >= threshold][-1]


def next_tier(lifetime: int) -> tuple[str, int] | None:
    """The next tier up and the points still to earn for it; None at the top."""
    for name, threshold in TIERS:
        if lifetime < threshold:
            return name, threshold - lifetime
    return None


def add_lifetime(session: Session, member_id: str, delta: int) -> None:
    lifetime, tier_before = session.execute(
        sa.update(Member).where(Member.member_id == member_id)
        .values(lifetime_earned=sa.func.greatest(0, Member.lifetime_earned + delta))
        .returning(Member.lifetime_earned, Member.tier).execution_options(synchronize_session=False)
    ).one()
    settle_tier(session, member_id, lifetime, tier_before)


def settle_tier(session: Session, member_id: str, lifetime: int, tier_before: str) -> None:
    tier = tier_for(lifetime)
    if tier != tier_before:
        session.execute(sa.update(Member).where(Member.member_id == member_id).values(tier=tier)
                        .execution_options(synchronize_session=False))
        emit(session, "tier.changed", member_id, tier=tier, previous_tier=tier_before, lifetime_earned=lifetime)
