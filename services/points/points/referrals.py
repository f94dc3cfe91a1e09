"""Referral: a member's code brings in another member; when the newcomer completes a first rewarded activity
(a journey, an attendance or a provider's activity) both get a bonus, the referrer at most N times.

A code is applied at or after joining, until the newcomer's first rewarded activity. The bonuses are ledger
earns whose ids derive from the referral, so a redelivered event or a race changes nothing twice.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.errors import Conflict, Invalid

from . import ledger, rules
from .models import Earning, Referral, ReferralCode

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 8  # 40 bits: not a secret, but not worth guessing either
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalise(code: str) -> str:
    """What a member may type: any case, with or without hyphens or spaces, O/I/L for 0/1/1."""
    return code.strip().upper().replace("-", "").replace(" ", "").translate(_READ_AS)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def code_of(session: Session, member_id: str) -> str:
    """The member's code, made on first asking (a clash of random codes is tried again)."""
    existing = session.execute(sa.select(ReferralCode.code).where(ReferralCode.member_id == member_id)).scalar()
    while existing is None:
        session.execute(insert(ReferralCode).values(member_id=member_id, code=new_code()).on_conflict_do_nothing())
        existing = session.execute(sa.select(ReferralCode.code).where(ReferralCode.member_id == member_id)).scalar()
    return existing


def _has_earned(session: Session, member_id: str) -> bool:
    return session.execute(sa.select(sa.exists().where(
        Earning.member_id == member_id, Earning.status == "credited", Earning.points > 0))).scalar()


def apply(session: Session, member_id: str, code: str, *, at: datetime) -> Referral:
    """Record who referred `member_id`; the same code again is a repeat, another one a conflict."""
    referrer_id = session.execute(sa.select(ReferralCode.member_id)
                                  .where(ReferralCode.code == normalise(code))).scalar()
    if referrer_id is None:
        raise Invalid("No such referral code.", field="referral_code")
    if referrer_id == member_id:
        raise Invalid("A member cannot refer themselves.", field="referral_code")
    existing = session.get(Referral, member_id, with_for_update=True)
    if existing is not None:
        if existing.referrer_id != referrer_id:
            raise Conflict("This member already joined with another referral code.", field="referral_code")
        return existing
    if _has_earned(session, member_id):
        raise Conflict("A referral code applies only before the member's first rewarded activity.",
                       field="referral_code")
    session.execute(insert(Referral).values(referred_id=member_id, referral_id=uuid.uuid4(), referrer_id=referrer_id,
                                            status="pending", applied_at=at).on_conflict_do_nothing())
    return session.get(Referral, member_id)


def reward_first_activities(session: Session, credited: dict[str, datetime]) -> None:
    """Called when members have been credited for activities (each at its time): each one's pending
    referral pays out, read in one query for the lot and settled in member order."""
    if not credited:
        return
    pending = session.execute(sa.select(Referral).where(
        Referral.referred_id.in_(sorted(credited)), Referral.status == "pending")
        .order_by(Referral.referred_id).with_for_update()).scalars().all()
    for referral in pending:
        _pay(session, referral, at=credited[referral.referred_id])


def _pay(session: Session, referral: Referral, *, at: datetime) -> None:
    member_id = referral.referred_id
    terms = rules.referral_terms(session, at)
    if terms is None:
        return
    # One referrer's payouts are counted under a lock, so two newcomers at once cannot both be the Nth.
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext("referrer:" + referral.referrer_id))))
    paid = session.execute(sa.select(sa.func.count()).select_from(Referral).where(
        Referral.referrer_id == referral.referrer_id, Referral.status == "rewarded")).scalar()
    referrer_paid = paid < terms.max_per_referrer and not ledger.is_erased(session, referral.referrer_id)
    bonuses = [(member_id, terms.referred_points, "referred")]
    if referrer_paid:
        bonuses.append((referral.referrer_id, terms.referrer_points, "referrer"))
    for who, points, side in bonuses:
        if points > 0:
            ledger.earn(session, member_id=who, points=points, source_type="referral",
                        source_id=str(referral.referral_id), cause=f"referral:{referral.referral_id}:{side}",
                        rule_id=terms.rule_id, rule_version=terms.rule_version, occurred_at=at,
                        details={"referral": side}, at=at)
    referral.status = "rewarded" if referrer_paid else "referrer_at_limit"
    referral.rewarded_at = at


def referral_of(session: Session, member_id: str) -> Referral | None:
    return session.get(Referral, member_id)


def referred_count(session: Session, referrer_id: str) -> dict[str, int]:
    rows = session.execute(sa.select(Referral.status, sa.func.count()).where(Referral.referrer_id == referrer_id)
                           .group_by(Referral.status)).all()
    return {status: count for status, count in rows}
