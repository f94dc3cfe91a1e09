"""Referral codes and referrals: the app (or the member's own credential) reads a member's code and applies
the code a newcomer joined with."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rewards_shared.auth import Principal

from .. import referrals
from .members import living_member

if TYPE_CHECKING:
    from ..bootstrap import Points


def referral_code(rt: Points, principal: Principal, member_id: str) -> dict:
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        living_member(rt, session, member_id)
        counts = referrals.referred_count(session, member_id)
        return {"member_id": member_id, "referral_code": referrals.code_of(session, member_id),
                "referred": sum(counts.values()), "rewarded": counts.get("rewarded", 0)}


def apply_referral(rt: Points, principal: Principal, member_id: str, code: str) -> dict:
    """The code `member_id` joined with; the bonuses follow their first rewarded activity."""
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        living_member(rt, session, member_id, for_update=True)
        return described(referrals.apply(session, member_id, code, at=rt.clock()))


def described(referral) -> dict:
    """What the newcomer may see of their referral (never who referred them)."""
    return {"member_id": referral.referred_id, "status": referral.status, "applied_at": referral.applied_at,
            "rewarded_at": referral.rewarded_at}
