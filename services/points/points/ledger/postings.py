"""The one way a transfer is written: deterministic ids, member accounts locked in order, no overdrafts.

Member accounts keep running sums, locked row by row, so a balance can never go below zero however
many transactions race. System accounts (issuance, redemptions, breakage, donations, groups) are
not updated in place: they would serialise every transaction in the scheme; their balances are the
sums of their transfers, which `verify` recomputes.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared import outbox
from rewards_shared.errors import Conflict, Invalid, NotFound
from rewards_shared.events import Event

from ..models import Account, Transfer

SOURCE = "points"
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


def group_account(group_id: str) -> str:
    return f"group:{group_id}"


class InsufficientPoints(Conflict):
    title = "Insufficient points"


class TransferExists(Conflict):
    title = "Transfer exists with different fields"


class HoldResolved(Conflict):
    title = "Hold already resolved"


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
    occurred_at: datetime | None = None
    details: dict | None = None
    pending: bool = False
    pending_id: uuid.UUID | None = None
    timeout_at: datetime | None = None

    def transfer(self) -> Transfer:
        return Transfer(**{f.name: getattr(self, f.name) for f in fields(self)})


_COMPARED = ("debit_account_id", "credit_account_id", "amount", "code", "member_id", "source_type", "source_id",
             "pending", "pending_id")


@dataclass(frozen=True)
class Posted:
    transfer: Transfer
    created: bool


def _is_member_account(account_id: str) -> bool:
    return account_id.startswith("member:")


def lock_accounts(session: Session, account_ids: list[str]) -> dict[str, Account]:
    """Lock member accounts in a fixed order so concurrent transfers cannot deadlock."""
    wanted = sorted({a for a in account_ids if _is_member_account(a)})
    rows = session.execute(
        sa.select(Account).where(Account.id.in_(wanted)).order_by(Account.id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalars().all() if wanted else []
    found = {row.id: row for row in rows}
    missing = [a for a in wanted if a not in found]
    if missing:
        raise NotFound(f"No such account: {', '.join(missing)}.", field="member_id")
    return found


def lock_available(session: Session, member_id: str) -> Account:
    return lock_accounts(session, [available_account(member_id)])[available_account(member_id)]


def spendable(account: Account) -> int:
    return account.credits_posted - account.debits_posted - account.debits_pending


def available_now(session: Session, member_id: str) -> int:
    """The member's available points as this transaction sees them (no query once the account is locked)."""
    return spendable(session.get(Account, available_account(member_id)))


def forget_account(session: Session, account_id: str) -> None:
    """Drop a copy of the account this session may hold, now that a statement has changed it."""
    cached = session.identity_map.get(session.identity_key(Account, account_id))
    if cached is not None:
        session.expire(cached)


def post(session: Session, request: TransferRequest) -> Posted:
    """Write a transfer once. A repeat with the same fields returns the original."""
    if request.amount <= 0:
        raise Invalid("A transfer moves a positive number of points.", field="points")
    existing = session.get(Transfer, request.id)
    if existing is not None:
        return Posted(_same_or_conflict(existing, request), created=False)
    accounts = lock_accounts(session, [request.debit_account_id, request.credit_account_id])
    debit, credit = accounts.get(request.debit_account_id), accounts.get(request.credit_account_id)
    resolving = _pending_to_resolve(session, request) if request.pending_id else None
    if debit is not None and debit.debits_must_not_exceed_credits and resolving is None \
            and request.amount > spendable(debit):
        raise InsufficientPoints(f"{request.amount} points needed, {spendable(debit)} available.", field="points")
    transfer = request.transfer()
    session.add(transfer)
    _apply(debit, credit, request, resolving)
    session.flush()
    return Posted(transfer, created=True)


def _apply(debit: Account | None, credit: Account | None, request: TransferRequest, resolving: Transfer | None):
    amount = request.amount
    if request.pending:
        if debit is not None:
            debit.debits_pending += amount
        if credit is not None:
            credit.credits_pending += amount
        return
    if resolving is not None:
        if debit is not None:
            debit.debits_pending -= amount
        if credit is not None:
            credit.credits_pending -= amount
        if request.code == "release":
            return
    if debit is not None:
        debit.debits_posted += amount
    if credit is not None:
        credit.credits_posted += amount


def _pending_to_resolve(session: Session, request: TransferRequest) -> Transfer:
    pending = session.get(Transfer, request.pending_id, with_for_update=True)
    if pending is None or not pending.pending:
        raise NotFound(f"No hold {request.pending_id}.", field="hold_id")
    resolution = session.execute(sa.select(Transfer).where(Transfer.pending_id == pending.id)).scalar()
    if resolution is not None:
        raise HoldResolved(f"Hold {pending.id} was already {resolution.code}d.", field="hold_id",
                           resolution=resolution.code)
    return pending


def _same_or_conflict(existing: Transfer, request: TransferRequest) -> Transfer:
    for name in _COMPARED:
        if getattr(existing, name) != getattr(request, name):
            raise TransferExists(f"Transfer {request.id} exists with a different {name}.", field=name)
    return existing


def emit(session: Session, event_type: str, member_id: str, **data) -> None:
    outbox.add(session, Event.create(event_type, SOURCE, member_id, {"member_id": member_id, **data}))
