"""The rules of money-like points: double entry, immutable transfers, no overdrafts.

Modelled on TigerBeetle: a transfer moves an amount from a debit account to a credit account;
its id is derived from what caused it, so repeating a request or redelivering an event finds the
original instead of posting twice, and a same-id request with different fields is refused.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.errors import Conflict, Invalid

from .models import Account, Member, Transfer

NAMESPACE = uuid.UUID("5b0c3f0e-8d7a-4d8e-9a43-6f1d2f0b7e11")
ISSUANCE = "system:issuance"
REDEMPTIONS = "system:redemptions"
BREAKAGE = "system:breakage"
DONATIONS = "system:donations"


def transfer_id(*parts: object) -> uuid.UUID:
    """Deterministic id of the transfer caused by `parts` (an event id, an idempotency key…)."""
    return uuid.uuid5(NAMESPACE, "|".join(str(part) for part in parts))


def available_account(member_id: str) -> str:
    return f"member:{member_id}:available"


def pending_account(member_id: str) -> str:
    return f"member:{member_id}:pending"


class InsufficientPoints(Conflict):
    title = "Insufficient points"


class TransferExists(Conflict):
    title = "Transfer exists with different fields"


@dataclass(frozen=True)
class TransferRequest:
    id: uuid.UUID
    debit_account_id: str
    credit_account_id: str
    amount: int
    code: str
    member_id: str | None = None
    source_type: str | None = None
    source_id: str | None = None
    rule_id: str | None = None
    rule_version: int | None = None
    reason: str | None = None
    actor: str | None = None


_COMPARED = ("debit_account_id", "credit_account_id", "amount", "code", "member_id", "source_type", "source_id")


@dataclass(frozen=True)
class Posted:
    transfer: Transfer
    created: bool


def ensure_member(session: Session, member_id: str) -> bool:
    """Create the member and its accounts if missing; True when newly created."""
    created = session.execute(
        insert(Member).values(member_id=member_id).on_conflict_do_nothing().returning(Member.member_id)
    ).first() is not None
    session.execute(insert(Account).values([
        {"id": available_account(member_id), "kind": "member_available", "member_id": member_id,
         "debits_must_not_exceed_credits": True},
        {"id": pending_account(member_id), "kind": "member_pending", "member_id": member_id,
         "debits_must_not_exceed_credits": True},
    ]).on_conflict_do_nothing())
    return created


def post(session: Session, request: TransferRequest) -> Posted:
    """Post a transfer once. A repeat with the same fields returns the original."""
    if request.amount <= 0:
        raise Invalid("A transfer moves a positive number of points.", field="amount")
    existing = session.get(Transfer, request.id)
    if existing is not None:
        return Posted(_same_or_conflict(existing, request), created=False)
    debit, credit = _lock_accounts(session, request.debit_account_id, request.credit_account_id)
    if debit.debits_must_not_exceed_credits and \
            debit.debits_posted + debit.debits_pending + request.amount > debit.credits_posted:
        raise InsufficientPoints(
            f"{request.amount} points needed, {debit.credits_posted - debit.debits_posted - debit.debits_pending}"
            " available.", field="amount")
    transfer = Transfer(**{f.name: getattr(request, f.name) for f in fields(request)})
    session.add(transfer)
    debit.debits_posted += request.amount
    credit.credits_posted += request.amount
    session.flush()
    return Posted(transfer, created=True)


def _same_or_conflict(existing: Transfer, request: TransferRequest) -> Transfer:
    for name in _COMPARED:
        if getattr(existing, name) != getattr(request, name):
            raise TransferExists(f"Transfer {request.id} exists with a different {name}.", field=name)
    return existing


def _lock_accounts(session: Session, *ids: str) -> list[Account]:
    """Lock in a fixed order so concurrent transfers between the same accounts cannot deadlock."""
    rows = session.execute(
        sa.select(Account).where(Account.id.in_(ids)).order_by(Account.id).with_for_update()
    ).scalars().all()
    by_id = {row.id: row for row in rows}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise Invalid(f"No such account: {', '.join(missing)}.", field="account")
    return [by_id[i] for i in ids]


@dataclass(frozen=True)
class Balance:
    member_id: str
    available: int
    pending: int
    held: int
    lifetime_earned: int


def balance(session: Session, member_id: str) -> Balance | None:
    member = session.get(Member, member_id)
    if member is None:
        return None
    accounts = {a.kind: a for a in session.execute(
        sa.select(Account).where(Account.member_id == member_id)).scalars()}
    main = accounts["member_available"]
    pending = accounts["member_pending"]
    return Balance(
        member_id=member_id,
        available=main.credits_posted - main.debits_posted - main.debits_pending,
        pending=pending.credits_posted - pending.debits_posted,
        held=main.debits_pending,
        lifetime_earned=member.lifetime_earned,
    )


def earn(session: Session, *, member_id: str, points: int, source_type: str, source_id: str,
         cause: str, rule_id: str | None = None, rule_version: int | None = None,
         when: datetime | None = None) -> Posted:
    """Issue points to a member for something they did; counted towards their lifetime total."""
    ensure_member(session, member_id)
    posted = post(session, TransferRequest(
        id=transfer_id("earn", cause), debit_account_id=ISSUANCE,
        credit_account_id=available_account(member_id), amount=points, code="earn",
        member_id=member_id, source_type=source_type, source_id=source_id,
        rule_id=rule_id, rule_version=rule_version))
    if posted.created:
        session.execute(sa.update(Member).where(Member.member_id == member_id)
                        .values(lifetime_earned=Member.lifetime_earned + points))
    return posted


def history(session: Session, member_id: str, *, limit: int, before_seq: int | None) -> list[Transfer]:
    query = sa.select(Transfer).where(Transfer.member_id == member_id)
    if before_seq is not None:
        query = query.where(Transfer.seq < before_seq)
    return list(session.execute(query.order_by(Transfer.seq.desc()).limit(limit)).scalars())


def signed_amount(transfer: Transfer, member_id: str) -> int:
    """Points in (+) or out (−) of the member's available account."""
    mine = available_account(member_id)
    if transfer.credit_account_id == mine:
        return transfer.amount
    if transfer.debit_account_id == mine:
        return -transfer.amount
    return 0
