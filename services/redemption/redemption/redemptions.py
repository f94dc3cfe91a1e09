"""The redemption saga, as state transitions guarded by the current state.

Every transition is a conditional UPDATE (… WHERE status = the state it leaves), so a repeat, a
race between a till, a cancel and the expiry job, or a handler re-run after a crash changes
nothing twice. Each transition writes its event to the outbox in the same transaction.
The service passes the runtime's clock as `at`; without it the wall clock is used.
"""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared import metrics, outbox
from rewards_shared.errors import Conflict, Gone, NotFound
from rewards_shared.events import Event
from rewards_shared.ids import request_uuid
from rewards_shared.runtime import utc_now

from . import catalogue, vouchers
from .models import LIVE_STATUSES, Partner, Redemption, Reward

SOURCE = "redemption"
_REQUEST_NAMESPACE = uuid.UUID("5d0c6f52-4b8e-4d35-9a52-4c1f0a1e7a11")


class Unavailable(Conflict):
    """The reward cannot be redeemed now; `reason` says why (out_of_stock, closed…)."""


def redemption_id_for(principal: str, idempotency_key: str) -> uuid.UUID:
    """The same request (credential and key) always names the same redemption, even after a crash."""
    return request_uuid(_REQUEST_NAMESPACE, principal, idempotency_key)


def request(session: Session, *, redemption_id: uuid.UUID, member_id: str, reward_id: str,
            at: datetime | None = None) -> Redemption:
    """Reserve one unit of stock within the member's limit and start the saga (status pending)."""
    existing = session.get(Redemption, redemption_id)
    if existing is not None:
        return existing
    at = at or utc_now()
    # The reward's row lock serialises every request for it, so stock and limits are checked exactly.
    reward = session.get(Reward, reward_id, with_for_update=True)
    if reward is None:
        raise NotFound(f"No reward {reward_id}.", field="reward_id")
    existing = session.get(Redemption, redemption_id, populate_existing=True)
    if existing is not None:
        return existing
    partner = session.get(Partner, reward.partner_id)
    reason = catalogue.unavailable_because(reward, partner, at)
    if reason:
        raise Unavailable(f"Reward {reward_id} cannot be redeemed now ({reason}).", field="reward_id",
                          reason=reason)
    if reward.per_member_limit is not None and _live_count(session, member_id, reward_id) >= reward.per_member_limit:
        raise Unavailable(f"Member {member_id} has reached the limit of {reward.per_member_limit} for this reward.",
                          field="member_id", reason="member_limit_reached")
    reward.stock -= 1
    redemption = Redemption(
        id=redemption_id, member_id=member_id, reward_id=reward.id, partner_id=reward.partner_id,
        reward_title=reward.title, cost_points=reward.cost_points, funded_by=reward.funded_by,
        settlement_pence=reward.settlement_pence, voucher_valid_days=reward.voucher_valid_days,
        status="pending", requested_at=at, updated_at=at)
    session.add(redemption)
    session.flush()
    _emit(session, "redemption.requested", redemption)
    return redemption


def _live_count(session: Session, member_id: str, reward_id: str) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(Redemption).where(
        Redemption.member_id == member_id, Redemption.reward_id == reward_id,
        Redemption.status.in_(LIVE_STATUSES))).scalar_one()


def get(session: Session, redemption_id: uuid.UUID) -> Redemption:
    found = session.get(Redemption, redemption_id, populate_existing=True)
    if found is None:
        raise NotFound(f"No redemption {redemption_id}.")
    return found


def history(session: Session, member_id: str, *, limit: int, before: tuple[datetime, uuid.UUID] | None = None):
    query = (sa.select(Redemption).where(Redemption.member_id == member_id)
             .order_by(Redemption.requested_at.desc(), Redemption.id.desc()).limit(limit))
    if before is not None:
        query = query.where(sa.tuple_(Redemption.requested_at, Redemption.id) < sa.tuple_(*before))
    return list(session.execute(query).scalars())


# --- transitions ------------------------------------------------------------------------------------

def _transition(session: Session, redemption_id: uuid.UUID, leaving: tuple[str, ...], **values) -> Redemption | None:
    """Move the redemption on if it is still in one of `leaving`; None when it had moved on already."""
    moved = session.execute(
        sa.update(Redemption).where(Redemption.id == redemption_id, Redemption.status.in_(leaving))
        .values(updated_at=sa.func.now(), **values).returning(Redemption.id)
    ).first()
    if moved and values.get("status") in ("redeemed", "rejected", "cancelled", "expired"):
        metrics.count_on_commit(session, metrics.REDEMPTIONS_FINISHED.labels(values["status"]))
    return session.get(Redemption, redemption_id, populate_existing=True) if moved else None


def _return_stock(session: Session, reward_id: str) -> None:
    session.execute(sa.update(Reward).where(Reward.id == reward_id).values(stock=Reward.stock + 1))


def issue(session: Session, key: vouchers.VoucherKey, redemption_id: uuid.UUID, *, hold_transfer_id: str | None,
          at: datetime | None = None) -> Redemption | None:
    """The points are held: give the member a voucher."""
    issued = issue_all(session, key, [(redemption_id, hold_transfer_id)], at=at)
    return issued[0] if issued else None


def issue_all(session: Session, key: vouchers.VoucherKey, holds: list[tuple[uuid.UUID, str | None]], *,
              at: datetime | None = None) -> list[Redemption]:
    """`issue` for each (redemption, hold) still pending, in one statement; those issued, in order."""
    at = at or utc_now()
    holds = _firsts(holds)  # a redemption's first hold is the one it keeps
    if not holds:
        return []
    given = sa.values(sa.column("id", sa.Uuid), sa.column("voucher_hash", sa.Text), sa.column("hold", sa.Text),
                      name="given").data([(rid, vouchers.fingerprint(key.code_for(rid)), hold) for rid, hold in holds])
    moved = set(session.execute(
        sa.update(Redemption).where(Redemption.id == given.c.id, Redemption.status == "pending")
        .values(status="issued", issued_at=at, voucher_hash=given.c.voucher_hash, hold_transfer_id=given.c.hold,
                expires_at=sa.literal(at, sa.DateTime(timezone=True))
                + sa.func.make_interval(0, 0, 0, Redemption.voucher_valid_days),
                updated_at=sa.func.now())
        .returning(Redemption.id).execution_options(synchronize_session=False)).scalars())
    issued = _reloaded(session, [rid for rid, _ in holds if rid in moved])
    for redemption in issued:
        _emit(session, "redemption.issued", redemption)
    return issued


def _firsts(pairs: list[tuple]) -> list[tuple]:
    """Each key's first pair, in order: what applying them one after another would act on."""
    first: dict = {}
    for key, value in pairs:
        first.setdefault(key, value)
    return list(first.items())


def _reloaded(session: Session, ids: list[uuid.UUID]) -> list[Redemption]:
    found = {r.id: r for r in session.execute(sa.select(Redemption).where(Redemption.id.in_(ids))
                                              .execution_options(populate_existing=True)).scalars()} if ids else {}
    return [found[rid] for rid in ids]


def _end(session: Session, redemption_id: uuid.UUID, leaving: tuple[str, ...], status: str, reason: str,
         event_type: str) -> Redemption | None:
    """A final state other than redeemed: the unit of stock goes back to the reward."""
    ended = _end_all(session, [(redemption_id, reason)], leaving, status, event_type)
    return ended[0] if ended else None


def _end_all(session: Session, ends: list[tuple[uuid.UUID, str]], leaving: tuple[str, ...], status: str,
             event_type: str) -> list[Redemption]:
    """`_end` for each (redemption, reason) in one statement, and the stock given back in another."""
    ends = _firsts(ends)
    if not ends:
        return []
    given = sa.values(sa.column("id", sa.Uuid), sa.column("reason", sa.Text), name="given").data(ends)
    moved = dict(session.execute(
        sa.update(Redemption).where(Redemption.id == given.c.id, Redemption.status.in_(leaving))
        .values(status=status, reason=given.c.reason, ended_at=sa.func.now(), updated_at=sa.func.now())
        .returning(Redemption.id, Redemption.reward_id).execution_options(synchronize_session=False)).all())
    if not moved:
        return []
    returned = sa.values(sa.column("reward_id", sa.Text), sa.column("units", sa.Integer), name="returned").data(
        sorted(Counter(moved.values()).items()))
    session.execute(sa.update(Reward).where(Reward.id == returned.c.reward_id)
                    .values(stock=Reward.stock + returned.c.units).execution_options(synchronize_session=False))
    metrics.count_on_commit(session, metrics.REDEMPTIONS_FINISHED.labels(status), len(moved))
    ended = _reloaded(session, [rid for rid, _ in ends if rid in moved])
    for redemption in ended:
        _emit(session, event_type, redemption)
    return ended


def reject(session: Session, redemption_id: uuid.UUID, reason: str) -> Redemption | None:
    """The points could not be held: give the stock back."""
    return _end(session, redemption_id, ("pending",), "rejected", reason, "redemption.rejected")


def reject_all(session: Session, refusals: list[tuple[uuid.UUID, str]]) -> list[Redemption]:
    """`reject` for each (redemption, reason), as a set."""
    return _end_all(session, refusals, ("pending",), "rejected", "redemption.rejected")


def cancel(session: Session, redemption_id: uuid.UUID) -> Redemption:
    """The member changed their mind before using the voucher; the hold is released and stock returned."""
    cancelled = _end(session, redemption_id, ("pending", "issued"), "cancelled", "cancelled_by_member",
                     "redemption.cancelled")
    if cancelled is None:
        current = get(session, redemption_id)
        if current.status == "cancelled":
            return current
        raise Conflict(f"Redemption {redemption_id} is {current.status} and can no longer be cancelled.",
                       field="status", status_now=current.status)
    return cancelled


def expire(session: Session, redemption_id: uuid.UUID, reason: str) -> Redemption | None:
    return _end(session, redemption_id, ("issued",), "expired", reason, "redemption.expired")


def expire_due(session: Session, *, at: datetime | None = None, limit: int = 500) -> int:
    """Expire unused vouchers past their date; several workers may run this side by side."""
    at = at or utc_now()
    due = session.execute(
        sa.select(Redemption.id).where(Redemption.status == "issued", Redemption.expires_at <= at)
        .order_by(Redemption.expires_at).limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    return sum(1 for redemption_id in due if expire(session, redemption_id, "voucher_expired"))


def abandon_unanswered(session: Session, *, older_than: timedelta, at: datetime | None = None,
                       limit: int = 500) -> int:
    """Cancel redemptions the ledger never answered (its consumer dead-lettered the request, say), so
    their stock returns. The ledger reads the cancel after the request on the member's partition, so a
    hold it did make is released."""
    cutoff = (at or utc_now()) - older_than
    stale = session.execute(
        sa.select(Redemption.id).where(Redemption.status == "pending", Redemption.requested_at <= cutoff)
        .order_by(Redemption.requested_at).limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    return sum(1 for redemption_id in stale if _end(session, redemption_id, ("pending",), "cancelled",
                                                    "no_answer_from_ledger", "redemption.cancelled"))


# --- the till ---------------------------------------------------------------------------------------

def voucher_for_partner(session: Session, code: str, partner_id: str, *, lock: bool = False) -> Redemption:
    """The redemption behind a code, if it is one of this partner's; 404 alike for unknown and foreign codes."""
    query = sa.select(Redemption).where(Redemption.voucher_hash == vouchers.fingerprint(code))
    found = session.execute(query.with_for_update() if lock else query).scalar()
    if found is None or found.partner_id != partner_id:
        raise NotFound("No such voucher.", field="code")
    return found


def check_redeemable(redemption: Redemption, at: datetime) -> None:
    if redemption.status == "redeemed":
        raise Conflict("This voucher has already been used.", field="code", status_now="redeemed",
                       redeemed_at=redemption.redeemed_at.isoformat())
    if redemption.status == "cancelled":
        raise Conflict("This voucher was cancelled by the member.", field="code", status_now="cancelled")
    if redemption.status == "expired" or (redemption.expires_at is not None and redemption.expires_at <= at):
        raise Gone("This voucher has expired.", field="code", status_now="expired",
                   expired_at=redemption.expires_at.isoformat() if redemption.expires_at else None)
    if redemption.status != "issued":
        raise NotFound("No such voucher.", field="code")


def validate(session: Session, code: str, partner_id: str, *, at: datetime | None = None) -> Redemption:
    redemption = voucher_for_partner(session, code, partner_id)
    check_redeemable(redemption, at or utc_now())
    return redemption


def redeem(session: Session, code: str, partner_id: str, *, by: str, key: str | None = None,
           at: datetime | None = None) -> Redemption:
    """Use the voucher once; the ledger captures the held points when it hears of it. The till's retry with
    the `key` that redeemed it (its first answer lost in a crash) is told it is redeemed, as the first was."""
    at = at or utc_now()
    redemption = voucher_for_partner(session, code, partner_id, lock=True)
    if key is not None and redemption.status == "redeemed" and redemption.redeemed_key == key:
        return redemption
    check_redeemable(redemption, at)
    redeemed = _transition(session, redemption.id, ("issued",), status="redeemed", redeemed_at=at, redeemed_by=by,
                           redeemed_key=key, ended_at=at)
    _emit(session, "redemption.completed", redeemed)
    return redeemed


# --- erasure ----------------------------------------------------------------------------------------

def forget_member(session: Session, member_id: str) -> int:
    """Cancel the member's live redemptions without telling anyone (the ledger released their holds when
    it erased the member), return their stock, and drop the member's id from every redemption."""
    live = session.execute(
        sa.update(Redemption).where(Redemption.member_id == member_id, Redemption.status.in_(("pending", "issued")))
        .values(status="cancelled", reason="member_erased", ended_at=sa.func.now(), updated_at=sa.func.now())
        .returning(Redemption.reward_id)).scalars().all()
    for reward_id in live:
        _return_stock(session, reward_id)
    session.execute(sa.update(Redemption).where(Redemption.member_id == member_id).values(member_id=None))
    return len(live)


# --- events -----------------------------------------------------------------------------------------

def _emit(session: Session, event_type: str, redemption: Redemption) -> None:
    outbox.add(session, Event.create(event_type, SOURCE, redemption.member_id, {
        "member_id": redemption.member_id,
        "redemption_id": str(redemption.id),
        "reward_id": redemption.reward_id,
        "partner_id": redemption.partner_id,
        "cost_points": redemption.cost_points,
        "reward_title": redemption.reward_title,
        "expires_at": redemption.expires_at.isoformat() if redemption.expires_at else None,
        "reason": redemption.reason,
        "funded_by": redemption.funded_by,
        "settlement_pence": redemption.settlement_pence,
    }))
