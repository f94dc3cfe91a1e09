"""Issuing points for what members did: the scheme's hot path, written in set form.

A batch of credits costs the same few statements whatever its size: the members' accounts are locked
in account order (the order every transfer locks them in, so concurrent workers cannot deadlock) and
read once, each credit's balance, lifetime and tier are worked out in memory in the batch's order,
then transfers, lots and events are inserted as multi-row statements and the balances and lifetimes
updated in one statement. A credit of one is the same code with a batch of one."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared import outbox
from rewards_shared.errors import Invalid
from rewards_shared.events import Event
from rewards_shared.runtime import utc_now

from ..models import Account, Lot, Member, Transfer
from .lots import LOT_LIFETIME
from .members import ensure_members
from .postings import ISSUANCE, SOURCE, Posted, TransferRequest, available_account, forget_account, post, transfer_id
from .tiers import tier_for


@dataclass(frozen=True)
class Credit:
    """Points to issue to a member for something they did (`cause` makes the transfer's id)."""
    member_id: str
    points: int
    source_type: str
    source_id: str
    cause: str
    rule_id: str | None = None
    rule_version: int | None = None
    occurred_at: datetime | None = None
    details: dict | None = None

    def request(self) -> TransferRequest:
        return TransferRequest(
            id=transfer_id("earn", self.cause), debit_account_id=ISSUANCE,
            credit_account_id=available_account(self.member_id), amount=self.points, code="earn",
            member_id=self.member_id, source_type=self.source_type, source_id=self.source_id,
            rule_id=self.rule_id, rule_version=self.rule_version, occurred_at=self.occurred_at,
            details=self.details)


_BALANCES = sa.text("""
WITH v(account_id, member_id, points, tier) AS (
  SELECT * FROM unnest(CAST(:accounts AS text[]), CAST(:members AS text[]), CAST(:points AS bigint[]),
                       CAST(:tiers AS text[]))
), account AS (
  UPDATE accounts SET credits_posted = accounts.credits_posted + v.points FROM v WHERE accounts.id = v.account_id
  RETURNING accounts.id
), member AS (
  UPDATE members SET lifetime_earned = members.lifetime_earned + v.points, tier = v.tier
  FROM v WHERE members.member_id = v.member_id
  RETURNING members.member_id
)
SELECT (SELECT count(*) FROM account) AS accounts, (SELECT count(*) FROM member) AS members
""")


# Executed with a list of rows, these are compiled once and sent as multi-row INSERTs (RETURNING makes
# SQLAlchemy batch the rows into VALUES lists rather than run one INSERT per row).
_NEW_TRANSFERS = insert(Transfer.__table__).on_conflict_do_nothing(index_elements=["id"]) \
    .returning(Transfer.__table__.c.id)
_LOTS = insert(Lot.__table__).returning(Lot.__table__.c.id)


def earn(session: Session, *, member_id: str, points: int, source_type: str, source_id: str, cause: str,
         rule_id: str | None = None, rule_version: int | None = None, occurred_at: datetime | None = None,
         details: dict | None = None, at: datetime | None = None) -> Posted:
    """Issue points to a member for something they did; they count towards the member's tier.
    A repeat (same cause) finds the original; the same cause with different fields is refused."""
    return earn_all(session, [Credit(member_id, points, source_type, source_id, cause, rule_id, rule_version,
                                     occurred_at, details)], at=at)[0]


def earn_all(session: Session, credits: list[Credit], *, at: datetime | None = None) -> list[Posted]:
    """Issue every credit, in order, as one set: a transfer, a lot, the balance and lifetime, the tier,
    and `points.earned` (and `tier.changed`) events with the balance after each credit."""
    if not credits:
        return []
    for credit in credits:
        if credit.points <= 0:
            raise Invalid("A transfer moves a positive number of points.", field="points")
    at = at or utc_now()
    members = sorted({c.member_id for c in credits})
    ensure_members(session, members)
    accounts = [available_account(m) for m in members]
    available = dict(session.execute(
        sa.select(Account.id, Account.credits_posted - Account.debits_posted - Account.debits_pending)
        .where(Account.id.in_(accounts)).order_by(Account.id).with_for_update()).all())
    standing = {row.member_id: [row.lifetime_earned, row.tier] for row in session.execute(
        sa.select(Member.member_id, Member.lifetime_earned, Member.tier).where(Member.member_id.in_(members)))}
    requests = [credit.request() for credit in credits]
    created = set(session.execute(_NEW_TRANSFERS, [_row(r) for r in requests]).scalars()) \
        if len({r.id for r in requests}) == len(requests) else _one_by_one(session, requests)
    posted, lots, events, added = [], [], [], defaultdict(int)
    for credit, request in zip(credits, requests, strict=True):
        if request.id not in created:
            posted.append(post(session, request))
            continue
        created.discard(request.id)
        member = credit.member_id
        added[member] += credit.points
        standing[member][0] += credit.points
        lots.append({"member_id": member, "transfer_id": request.id, "points": credit.points,
                     "remaining": credit.points, "earned_at": at, "expires_at": at + LOT_LIFETIME})
        events.append(Event.create("points.earned", SOURCE, member, {
            "member_id": member, "points": credit.points, "transfer_id": str(request.id),
            "source_type": credit.source_type, "source_id": credit.source_id, "rule_id": credit.rule_id,
            "rule_version": credit.rule_version,
            "available": available[request.credit_account_id] + added[member]}))
        lifetime, tier_before = standing[member]
        if (tier := tier_for(lifetime)) != tier_before:
            standing[member][1] = tier
            events.append(Event.create("tier.changed", SOURCE, member, {
                "member_id": member, "tier": tier, "previous_tier": tier_before, "lifetime_earned": lifetime}))
        posted.append(Posted(request.transfer(), created=True))
    if lots:
        session.execute(_LOTS, lots)
        credited = sorted(added)
        session.execute(_BALANCES, {
            "accounts": [available_account(m) for m in credited], "members": credited,
            "points": [added[m] for m in credited], "tiers": [standing[m][1] for m in credited]})
        for member in credited:
            forget_account(session, available_account(member))
        outbox.add_many(session, events)
    return posted


def _row(request: TransferRequest) -> dict:
    return {"id": request.id, "debit_account_id": request.debit_account_id,
            "credit_account_id": request.credit_account_id, "amount": request.amount, "code": "earn",
            "pending": False, "member_id": request.member_id, "source_type": request.source_type,
            "source_id": request.source_id, "rule_id": request.rule_id, "rule_version": request.rule_version,
            "occurred_at": request.occurred_at, "details": request.details}


def _one_by_one(session: Session, requests: list[TransferRequest]) -> set:
    """A batch naming one transfer twice: only its first mention can create it."""
    created, seen = set(), set()
    for request in requests:
        if request.id in seen:
            continue
        seen.add(request.id)
        created.update(session.execute(_NEW_TRANSFERS, [_row(request)]).scalars())
    return created
