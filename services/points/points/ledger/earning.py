"""Issuing points for something a member did: the scheme's hot path, written in one statement."""
from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared.errors import Invalid
from rewards_shared.runtime import utc_now

from .lots import LOT_LIFETIME
from .members import ensure_member
from .postings import ISSUANCE, Posted, TransferRequest, available_account, emit, forget_account, post, transfer_id
from .tiers import settle_tier

_EARN = sa.text("""
WITH t AS (
  INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, code, pending, member_id, source_type,
                         source_id, rule_id, rule_version, occurred_at, details)
  VALUES (:id, :debit, :credit, :amount, 'earn', false, :member_id, :source_type, :source_id, :rule_id,
          :rule_version, :occurred_at, CAST(:details AS json))
  ON CONFLICT (id) DO NOTHING
  RETURNING id, amount
), lot AS (
  INSERT INTO lots (member_id, transfer_id, points, remaining, earned_at, expires_at)
  SELECT :member_id, t.id, t.amount, t.amount, :at, :at + make_interval(days => :lifetime_days) FROM t
), account AS (
  UPDATE accounts SET credits_posted = credits_posted + t.amount FROM t WHERE accounts.id = :credit
  RETURNING accounts.credits_posted - accounts.debits_posted - accounts.debits_pending AS available
), member AS (
  UPDATE members SET lifetime_earned = lifetime_earned + t.amount FROM t WHERE members.member_id = :member_id
  RETURNING members.lifetime_earned, members.tier
)
SELECT (SELECT count(*) FROM t) AS created, (SELECT available FROM account) AS available,
       (SELECT lifetime_earned FROM member) AS lifetime, (SELECT tier FROM member) AS tier
""").bindparams(sa.bindparam("at", type_=sa.DateTime(timezone=True)))


def earn(session: Session, *, member_id: str, points: int, source_type: str, source_id: str, cause: str,
         rule_id: str | None = None, rule_version: int | None = None, occurred_at: datetime | None = None,
         details: dict | None = None, at: datetime | None = None) -> Posted:
    """Issue points to a member for something they did; they count towards the member's tier.

    The transfer, its lot and the balance are written in one statement (a credit cannot overdraw,
    so it needs no check); a repeat falls back to the general comparison."""
    if points <= 0:
        raise Invalid("A transfer moves a positive number of points.", field="points")
    ensure_member(session, member_id)
    request = TransferRequest(
        id=transfer_id("earn", cause), debit_account_id=ISSUANCE, credit_account_id=available_account(member_id),
        amount=points, code="earn", member_id=member_id, source_type=source_type, source_id=source_id,
        rule_id=rule_id, rule_version=rule_version, occurred_at=occurred_at, details=details)
    written = session.execute(_EARN, {
        "id": request.id, "debit": request.debit_account_id, "credit": request.credit_account_id, "amount": points,
        "member_id": member_id, "source_type": source_type, "source_id": source_id, "rule_id": rule_id,
        "rule_version": rule_version, "occurred_at": occurred_at,
        "details": json.dumps(details) if details is not None else None,
        "at": at or utc_now(), "lifetime_days": LOT_LIFETIME.days}).one()
    if not written.created:
        return post(session, request)
    forget_account(session, request.credit_account_id)
    settle_tier(session, member_id, written.lifetime, written.tier)
    emit(session, "points.earned", member_id, points=points, transfer_id=str(request.id), source_type=source_type,
         source_id=source_id, rule_id=rule_id, rule_version=rule_version, available=written.available)
    return Posted(request.transfer(), created=True)
