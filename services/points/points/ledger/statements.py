"""What a member sees: the balance with what expires soon, and the history of their transfers."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import Transfer
from .postings import available_account, pending_account


@dataclass(frozen=True)
class Balance:
    member_id: str
    available: int
    pending: int
    held: int
    lifetime_earned: int
    tier: str


def balance(session: Session, member_id: str) -> Balance | None:
    """The member's balance as this transaction sees it (pending changes flushed first)."""
    view = balance_view(session, member_id)
    if view is None:
        return None
    return Balance(**{name: view[name] for name in Balance.__dataclass_fields__})


_BALANCE_VIEW = sa.text("""
SELECT m.lifetime_earned, m.tier,
       a.credits_posted - a.debits_posted - a.debits_pending AS available, a.debits_pending AS held,
       p.credits_posted - p.debits_posted AS pending,
       (SELECT COALESCE(json_agg(json_build_object('points', l.remaining, 'expires_at', l.expires_at)
                                 ORDER BY l.expires_at), '[]'::json)
          FROM lots l WHERE l.member_id = m.member_id AND l.remaining > 0
           AND l.expires_at <= now() + make_interval(days => :days)) AS expiring
  FROM members m
  JOIN accounts a ON a.id = :available_id
  JOIN accounts p ON p.id = :pending_id
 WHERE m.member_id = :member_id
""")


def balance_view(connection, member_id: str, *, expiring_within_days: int = 30) -> dict | None:
    """What the balance API shows, in one statement: the balance and what expires soon.
    `connection` is a Connection, or a Session (which flushes its pending changes first)."""
    row = connection.execute(_BALANCE_VIEW, {
        "member_id": member_id, "available_id": available_account(member_id),
        "pending_id": pending_account(member_id), "days": expiring_within_days}).first()
    if row is None:
        return None
    return {"member_id": member_id, "available": row.available, "pending": row.pending, "held": row.held,
            "lifetime_earned": row.lifetime_earned, "tier": row.tier,
            "expiring": [{"points": e["points"], "expires_at": datetime.fromisoformat(e["expires_at"])}
                         for e in row.expiring]}


def history(session: Session, member_id: str, *, limit: int, before_seq: int | None) -> list[Transfer]:
    query = sa.select(Transfer).where(Transfer.member_id == member_id)
    if before_seq is not None:
        query = query.where(Transfer.seq < before_seq)
    return list(session.execute(query.order_by(Transfer.seq.desc()).limit(limit)).scalars())


def signed_amount(transfer: Transfer, member_id: str) -> int:
    """Points into (+) or out of (−) the member's available balance; a hold shows as its amount out."""
    mine = available_account(member_id)
    if transfer.code == "release":
        return transfer.amount
    if transfer.code == "capture":
        return 0
    if transfer.credit_account_id == mine:
        return transfer.amount
    if transfer.debit_account_id == mine:
        return -transfer.amount
    return 0


def entry(transfer: Transfer, member_id: str) -> dict:
    """One line of the member's statement."""
    return {"transfer_id": str(transfer.id), "points": signed_amount(transfer, member_id), "code": transfer.code,
            "source_type": transfer.source_type, "source_id": transfer.source_id, "rule_id": transfer.rule_id,
            "rule_version": transfer.rule_version, "reason": transfer.reason, "occurred_at": transfer.occurred_at,
            "details": transfer.details, "created_at": transfer.created_at}
