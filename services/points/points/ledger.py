"""The rules of money-like points: double entry, immutable transfers, no overdrafts.

Modelled on TigerBeetle: a transfer moves an amount from a debit account to a credit account; a
pending transfer (a hold) reserves it until it is posted (captured) or voided (released), each at
most once. Transfer ids derive from what caused them, so a repeated request or a redelivered event
finds the original instead of posting twice, and a same-id request with different fields is refused.

Member accounts keep running sums, locked row by row, so a balance can never go below zero however
many transactions race. System accounts (issuance, redemptions, breakage, donations, groups) are
not updated in place: they would serialise every transaction in the scheme; their balances are the
sums of their transfers, which `verify` recomputes.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared import outbox
from rewards_shared.errors import Conflict, Invalid, NotFound
from rewards_shared.events import Event

from .models import Account, CommunityGroup, Lot, Member, Transfer

SOURCE = "points"
NAMESPACE = uuid.UUID("5b0c3f0e-8d7a-4d8e-9a43-6f1d2f0b7e11")
ISSUANCE = "system:issuance"
REDEMPTIONS = "system:redemptions"
BREAKAGE = "system:breakage"
DONATIONS = "system:donations"
LOT_LIFETIME = timedelta(days=365)
TIERS = (("bronze", 0), ("silver", 500), ("gold", 2000), ("platinum", 5000))


def transfer_id(*parts: object) -> uuid.UUID:
    """Deterministic id of the transfer caused by `parts` (an event id, an idempotency key…)."""
    return uuid.uuid5(NAMESPACE, "|".join(str(part) for part in parts))


def available_account(member_id: str) -> str:
    return f"member:{member_id}:available"


def pending_account(member_id: str) -> str:
    return f"member:{member_id}:pending"


def group_account(group_id: str) -> str:
    return f"group:{group_id}"


def now() -> datetime:
    return datetime.now(UTC)


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


_COMPARED = ("debit_account_id", "credit_account_id", "amount", "code", "member_id", "source_type", "source_id",
             "pending", "pending_id")


@dataclass(frozen=True)
class Posted:
    transfer: Transfer
    created: bool


# --- members and accounts -------------------------------------------------------------------------

def ensure_member(session: Session, member_id: str) -> bool:
    """Create the member and its accounts if missing; True when newly created (once per session)."""
    known = session.info.setdefault("members_ensured", set())
    if member_id in known:
        return False
    known.add(member_id)
    created = session.execute(
        insert(Member).values(member_id=member_id).on_conflict_do_nothing().returning(Member.member_id)
    ).first() is not None
    if created:
        session.execute(insert(Account).values([
            {"id": available_account(member_id), "kind": "member_available", "member_id": member_id,
             "debits_must_not_exceed_credits": True},
            {"id": pending_account(member_id), "kind": "member_pending", "member_id": member_id,
             "debits_must_not_exceed_credits": True},
        ]).on_conflict_do_nothing())
    return created


def _is_member_account(account_id: str) -> bool:
    return account_id.startswith("member:")


def _lock(session: Session, account_ids: list[str]) -> dict[str, Account]:
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


def _available(account: Account) -> int:
    return account.credits_posted - account.debits_posted - account.debits_pending


def available_now(session: Session, member_id: str) -> int:
    """The member's available points as this transaction sees them (no query once the account is locked)."""
    return _available(session.get(Account, available_account(member_id)))


# --- the one way a transfer is written --------------------------------------------------------------

def post(session: Session, request: TransferRequest) -> Posted:
    """Write a transfer once. A repeat with the same fields returns the original."""
    if request.amount <= 0:
        raise Invalid("A transfer moves a positive number of points.", field="points")
    existing = session.get(Transfer, request.id)
    if existing is not None:
        return Posted(_same_or_conflict(existing, request), created=False)
    accounts = _lock(session, [request.debit_account_id, request.credit_account_id])
    debit, credit = accounts.get(request.debit_account_id), accounts.get(request.credit_account_id)
    resolving = _pending_to_resolve(session, request) if request.pending_id else None
    if debit is not None and debit.debits_must_not_exceed_credits and resolving is None \
            and request.amount > _available(debit):
        raise InsufficientPoints(f"{request.amount} points needed, {_available(debit)} available.", field="points")
    transfer = Transfer(**{f.name: getattr(request, f.name) for f in fields(request)})
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


# --- earning, lots and tiers ------------------------------------------------------------------------

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
  SELECT :member_id, t.id, t.amount, t.amount, now(), now() + make_interval(days => :lifetime_days) FROM t
), account AS (
  UPDATE accounts SET credits_posted = credits_posted + t.amount FROM t WHERE accounts.id = :credit
  RETURNING accounts.credits_posted - accounts.debits_posted - accounts.debits_pending AS available
), member AS (
  UPDATE members SET lifetime_earned = lifetime_earned + t.amount FROM t WHERE members.member_id = :member_id
  RETURNING members.lifetime_earned, members.tier
)
SELECT (SELECT count(*) FROM t) AS created, (SELECT available FROM account) AS available,
       (SELECT lifetime_earned FROM member) AS lifetime, (SELECT tier FROM member) AS tier
""")


def earn(session: Session, *, member_id: str, points: int, source_type: str, source_id: str, cause: str,
         rule_id: str | None = None, rule_version: int | None = None, occurred_at: datetime | None = None,
         details: dict | None = None) -> Posted:
    """Issue points to a member for something they did; they count towards the member's tier.

    The hot path of the scheme, so the transfer, its lot and the balance are written in one statement
    (a credit cannot overdraw, so it needs no check); a repeat falls back to the general comparison."""
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
        "lifetime_days": LOT_LIFETIME.days}).one()
    if not written.created:
        return post(session, request)
    _forget_account(session, request.credit_account_id)
    _settle_tier(session, member_id, written.lifetime, written.tier)
    emit(session, "points.earned", member_id, points=points, transfer_id=str(request.id), source_type=source_type,
         source_id=source_id, rule_id=rule_id, rule_version=rule_version, available=written.available)
    return Posted(Transfer(**{f.name: getattr(request, f.name) for f in fields(request)}), created=True)


def _forget_account(session: Session, account_id: str) -> None:
    """Drop a copy of the account this session may hold, now that a statement has changed it."""
    cached = session.identity_map.get(session.identity_key(Account, account_id))
    if cached is not None:
        session.expire(cached)


def _open_lot(session: Session, transfer: Transfer) -> None:
    earned_at = now()
    session.add(Lot(member_id=transfer.member_id, transfer_id=transfer.id, points=transfer.amount,
                    remaining=transfer.amount, earned_at=earned_at, expires_at=earned_at + LOT_LIFETIME))


def _consume_lots(session: Session, member_id: str, amount: int, *, lot: Lot | None = None) -> None:
    """Spend `amount` from the member's lots, oldest first (or from one lot, for its expiry)."""
    lots = [lot] if lot is not None else session.execute(
        sa.select(Lot).where(Lot.member_id == member_id, Lot.remaining > 0)
        .order_by(Lot.expires_at, Lot.id).with_for_update()).scalars()
    for each in lots:
        if amount <= 0:
            break
        taken = min(each.remaining, amount)
        each.remaining -= taken
        amount -= taken


def tier_for(lifetime: int) -> str:
    return [name for name, threshold in TIERS if lifetime >= threshold][-1]


def _add_lifetime(session: Session, member_id: str, delta: int) -> None:
    lifetime, tier_before = session.execute(
        sa.update(Member).where(Member.member_id == member_id)
        .values(lifetime_earned=sa.func.greatest(0, Member.lifetime_earned + delta))
        .returning(Member.lifetime_earned, Member.tier).execution_options(synchronize_session=False)
    ).one()
    _settle_tier(session, member_id, lifetime, tier_before)


def _settle_tier(session: Session, member_id: str, lifetime: int, tier_before: str) -> None:
    tier = tier_for(lifetime)
    if tier != tier_before:
        session.execute(sa.update(Member).where(Member.member_id == member_id).values(tier=tier)
                        .execution_options(synchronize_session=False))
        emit(session, "tier.changed", member_id, tier=tier, previous_tier=tier_before, lifetime_earned=lifetime)


def debit_available(session: Session, *, member_id: str, amount: int, to_account: str, code: str,
                    id: uuid.UUID, reason: str | None = None, actor: str | None = None,
                    source_type: str | None = None, source_id: str | None = None,
                    details: dict | None = None) -> Posted:
    """Take points out of the member's available balance (oldest lots first)."""
    posted = post(session, TransferRequest(
        id=id, debit_account_id=available_account(member_id), credit_account_id=to_account, amount=amount,
        code=code, member_id=member_id, reason=reason, actor=actor, source_type=source_type,
        source_id=source_id, details=details))
    if posted.created:
        _consume_lots(session, member_id, amount)
    return posted


def is_erased(session: Session, member_id: str) -> bool:
    return session.execute(sa.select(Member.erased_at).where(Member.member_id == member_id)).scalar() is not None


def erase_member(session: Session, member_id: str) -> bool:
    """Withdraw what the member could still spend, mark them erased and tell the other services once.
    False when there is no such member; a repeat changes nothing."""
    member = session.get(Member, member_id, with_for_update=True)
    if member is None:
        return False
    if member.erased_at is not None:
        return True
    account = _lock(session, [available_account(member_id)])[available_account(member_id)]
    spare = _available(account)
    if spare > 0:
        debit_available(session, member_id=member_id, amount=spare, to_account=ISSUANCE, code="erase",
                        id=transfer_id("erase", member_id), reason="member erased")
    member.erased_at = now()
    emit(session, "member.erased", member_id)
    return True


# --- pending points (awaiting confirmation) --------------------------------------------------------

def credit_pending(session: Session, *, member_id: str, points: int, source_type: str, source_id: str,
                   cause: str, rule_id: str | None = None, rule_version: int | None = None,
                   occurred_at: datetime | None = None) -> Posted:
    """Points the member will get once something is confirmed: shown as `pending`, not spendable."""
    ensure_member(session, member_id)
    posted = post(session, TransferRequest(
        id=transfer_id("pending", cause), debit_account_id=ISSUANCE, credit_account_id=pending_account(member_id),
        amount=points, code="pending", member_id=member_id, source_type=source_type, source_id=source_id,
        rule_id=rule_id, rule_version=rule_version, occurred_at=occurred_at))
    if posted.created:
        emit(session, "points.pending", member_id, points=points, transfer_id=str(posted.transfer.id),
             source_type=source_type, source_id=source_id)
    return posted


def settle_pending(session: Session, *, member_id: str, cause: str, confirmed: bool, points: int | None = None,
                   rule_id: str | None = None, rule_version: int | None = None, reason: str | None = None) -> int:
    """Turn pending points into available ones (confirmed) or take them back (rejected).

    A confirmation may award a different amount than was pending (the rule decides at confirmation):
    the pending amount is cleared either way and the confirmed amount becomes available."""
    pending = session.get(Transfer, transfer_id("pending", cause))
    if pending is None:
        if confirmed and points:
            return _confirm_without_pending(session, member_id, cause, points, rule_id, rule_version)
        return 0
    cleared = post(session, TransferRequest(
        id=transfer_id("pending-cleared", cause), debit_account_id=pending_account(member_id),
        credit_account_id=ISSUANCE, amount=pending.amount, code="confirm" if confirmed else "reject",
        member_id=member_id, source_type=pending.source_type, source_id=pending.source_id, reason=reason))
    if not cleared.created:
        return 0
    if not confirmed:
        emit(session, "points.reversed", member_id, points=pending.amount, transfer_id=str(cleared.transfer.id),
             source_type=pending.source_type, source_id=pending.source_id, reason=reason or "not confirmed")
        return 0
    award = pending.amount if points is None else points
    if award <= 0:
        return 0
    posted = post(session, TransferRequest(
        id=transfer_id("earn", cause), debit_account_id=ISSUANCE, credit_account_id=available_account(member_id),
        amount=award, code="earn", member_id=member_id, source_type=pending.source_type,
        source_id=pending.source_id, rule_id=rule_id or pending.rule_id,
        rule_version=rule_version or pending.rule_version, occurred_at=pending.occurred_at))
    _open_lot(session, posted.transfer)
    _add_lifetime(session, member_id, award)
    emit(session, "points.confirmed", member_id, points=award, transfer_id=str(posted.transfer.id),
         source_type=pending.source_type, source_id=pending.source_id,
         available=available_now(session, member_id))
    return award


def _confirm_without_pending(session, member_id, cause, points, rule_id, rule_version) -> int:
    source_type, _, source_id = cause.partition(":")
    posted = earn(session, member_id=member_id, points=points, source_type=source_type, source_id=source_id,
                  cause=cause, rule_id=rule_id, rule_version=rule_version)
    return points if posted.created else 0


# --- holds: hold → capture or release, at most once ------------------------------------------------

def hold(session: Session, *, member_id: str, points: int, id: uuid.UUID, timeout_at: datetime,
         source_type: str, source_id: str, reason: str | None = None) -> Posted:
    ensure_member(session, member_id)
    return post(session, TransferRequest(
        id=id, debit_account_id=available_account(member_id), credit_account_id=REDEMPTIONS, amount=points,
        code="hold", member_id=member_id, source_type=source_type, source_id=source_id, reason=reason,
        pending=True, timeout_at=timeout_at))


def capture(session: Session, hold_id: uuid.UUID, *, id: uuid.UUID, actor: str | None = None) -> Posted:
    held = _require_hold(session, hold_id)
    posted = post(session, TransferRequest(
        id=id, debit_account_id=held.debit_account_id, credit_account_id=held.credit_account_id,
        amount=held.amount, code="capture", member_id=held.member_id, source_type=held.source_type,
        source_id=held.source_id, actor=actor, pending_id=held.id))
    if posted.created:
        _consume_lots(session, held.member_id, held.amount)
    return posted


def release(session: Session, hold_id: uuid.UUID, *, id: uuid.UUID, reason: str) -> Posted:
    held = _require_hold(session, hold_id)
    return post(session, TransferRequest(
        id=id, debit_account_id=held.debit_account_id, credit_account_id=held.credit_account_id,
        amount=held.amount, code="release", member_id=held.member_id, source_type=held.source_type,
        source_id=held.source_id, reason=reason, pending_id=held.id))


def _require_hold(session: Session, hold_id: uuid.UUID) -> Transfer:
    held = session.get(Transfer, hold_id)
    if held is None or not held.pending:
        raise NotFound(f"No hold {hold_id}.", field="hold_id")
    return held


def resolution_of(session: Session, hold_id: uuid.UUID) -> Transfer | None:
    return session.execute(sa.select(Transfer).where(Transfer.pending_id == hold_id)).scalar()


def release_timed_out_holds(session: Session, *, at: datetime | None = None, limit: int = 500) -> int:
    """The safety net: holds nobody captured or released by their timeout are released."""
    at = at or now()
    resolved = sa.select(Transfer.pending_id).where(Transfer.pending_id.is_not(None))
    due = session.execute(
        sa.select(Transfer).where(Transfer.pending.is_(True), Transfer.timeout_at <= at,
                                  Transfer.id.not_in(resolved))
        .order_by(Transfer.timeout_at).limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    for held in due:
        released = release(session, held.id, id=transfer_id("release", held.id), reason="timeout")
        emit(session, "points.released", held.member_id, points=held.amount, transfer_id=str(released.transfer.id),
             source_type=held.source_type, source_id=held.source_id,
             redemption_id=held.source_id if held.source_type == "redemption" else None, reason="timeout",
             available=available_now(session, held.member_id))
    return len(due)


# --- expiry -----------------------------------------------------------------------------------------

def expire_due_lots(session: Session, *, at: datetime | None = None, limit: int = 500) -> int:
    """Expire what is left of lots past their date. Points a hold has reserved stay until the hold
    is captured (which spends them) or released (after which the next run expires them)."""
    at = at or now()
    lots = session.execute(
        sa.select(Lot).where(Lot.expires_at <= at, Lot.remaining > 0).order_by(Lot.expires_at, Lot.id)
        .limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    expired = 0
    for lot in lots:
        account = _lock(session, [available_account(lot.member_id)])[available_account(lot.member_id)]
        amount = min(lot.remaining, max(0, _available(account)))
        if amount <= 0:
            continue
        posted = post(session, TransferRequest(
            id=transfer_id("expire", lot.id, lot.remaining), debit_account_id=account.id,
            credit_account_id=BREAKAGE, amount=amount, code="expire", member_id=lot.member_id,
            source_type="lot", source_id=str(lot.id)))
        _consume_lots(session, lot.member_id, amount, lot=lot)
        emit(session, "points.expired", lot.member_id, points=amount, transfer_id=str(posted.transfer.id),
             expires_at=lot.expires_at.isoformat(), available=_available(account))
        expired += 1
    return expired


def warn_expiring_lots(session: Session, *, at: datetime | None = None, ahead: timedelta = timedelta(days=30),
                       limit: int = 500) -> int:
    """`points.expiring_soon` once per lot, `ahead` of its expiry."""
    at = at or now()
    lots = session.execute(
        sa.select(Lot).where(Lot.expires_at <= at + ahead, Lot.expires_at > at, Lot.remaining > 0,
                             Lot.warned_at.is_(None))
        .order_by(Lot.expires_at).limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    for lot in lots:
        lot.warned_at = at
        emit(session, "points.expiring_soon", lot.member_id, points=lot.remaining,
             expires_at=lot.expires_at.isoformat(), source_type="lot", source_id=str(lot.id))
    return len(lots)


# --- corrections, adjustments, donations -----------------------------------------------------------

def reverse(session: Session, original: Transfer, *, cause: str, reason: str) -> Posted | None:
    """Take back what an earn gave, as far as the member still has it (never below zero)."""
    account = _lock(session, [available_account(original.member_id)])[available_account(original.member_id)]
    amount = min(original.amount, max(0, _available(account)))
    shortfall = original.amount - amount
    _add_lifetime(session, original.member_id, -original.amount)
    if amount <= 0:
        return None
    posted = debit_available(session, member_id=original.member_id, amount=amount, to_account=ISSUANCE,
                             code="reverse", id=transfer_id("reverse", cause), reason=reason,
                             source_type=original.source_type, source_id=original.source_id,
                             details={"reverses": str(original.id), "shortfall": shortfall})
    emit(session, "points.reversed", original.member_id, points=amount, transfer_id=str(posted.transfer.id),
         source_type=original.source_type, source_id=original.source_id, reason=reason,
         available=_available(account))
    return posted


def adjust(session: Session, *, member_id: str, points: int, reason: str, actor: str, key: str) -> Posted:
    """An audited correction by council staff: positive credits, negative debits (never below zero)."""
    if points == 0:
        raise Invalid("An adjustment moves a non-zero number of points.", field="points")
    if session.get(Member, member_id) is None:
        raise NotFound(f"No member {member_id}.", field="member_id")
    id = transfer_id("adjust", key)
    if points > 0:
        posted = post(session, TransferRequest(
            id=id, debit_account_id=ISSUANCE, credit_account_id=available_account(member_id), amount=points,
            code="adjust", member_id=member_id, reason=reason, actor=actor))
        if posted.created:
            _open_lot(session, posted.transfer)
    else:
        posted = debit_available(session, member_id=member_id, amount=-points, to_account=ISSUANCE, code="adjust",
                                 id=id, reason=reason, actor=actor)
    if posted.created:
        emit(session, "points.adjusted", member_id, points=points, transfer_id=str(id), reason=reason,
             available=available_now(session, member_id))
    return posted


def add_group(session: Session, group_id: str, name: str) -> tuple[CommunityGroup, bool]:
    existing = session.get(CommunityGroup, group_id)
    if existing is not None:
        return existing, False
    group = CommunityGroup(group_id=group_id, name=name)
    session.add(group)
    session.execute(insert(Account).values(id=group_account(group_id), kind="community_group")
                    .on_conflict_do_nothing())
    session.flush()
    return group, True


def donate(session: Session, *, member_id: str, group_id: str, points: int, key: str, actor: str) -> Posted:
    if session.get(CommunityGroup, group_id) is None:
        raise NotFound(f"No community group {group_id}.", field="group_id")
    if session.get(Member, member_id) is None:
        raise NotFound(f"No member {member_id}.", field="member_id")
    posted = debit_available(session, member_id=member_id, amount=points, to_account=group_account(group_id),
                             code="donate", id=transfer_id("donate", key), actor=actor,
                             source_type="community_group", source_id=group_id)
    if posted.created:
        emit(session, "points.donated", member_id, points=points, transfer_id=str(posted.transfer.id),
             source_type="community_group", source_id=group_id, available=available_now(session, member_id))
    return posted


def group_total(session: Session, group_id: str) -> int:
    return session.execute(sa.select(sa.func.coalesce(sa.func.sum(Transfer.amount), 0))
                           .where(Transfer.credit_account_id == group_account(group_id))).scalar()


# --- reading ----------------------------------------------------------------------------------------

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
