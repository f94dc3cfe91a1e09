"""The deliveries outbox: which channels a notice goes to and when, gathering small earnings into a
daily digest, and the claim → send → settle cycle the dispatcher runs outside the consumer's transaction."""
from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from .catalogue import MEMBER_CHANNELS, Notice
from .models import Contact, Delivery
from .preferences import Schedule

NAMESPACE = uuid.UUID("0d9b8c1e-5f3a-4c7e-9a2b-6e1f4d8c3b70")
WEBHOOK = "webhook"


@dataclass(frozen=True)
class Planned:
    channel: str
    target: str | None
    status: str
    not_before: datetime


def plan(notice: Notice, document: dict, contact: Contact | None, available: frozenset[str],
         now: datetime) -> list[Planned]:
    """Every message one notice becomes: the app backend's webhook at once, and each channel the member
    wants and can be reached on, after their quiet hours or held for the digest if it is a small earning."""
    planned = [Planned(WEBHOOK, None, "pending", now)] if WEBHOOK in available else []
    schedule = Schedule.of(document)
    switches = document["channels"].get(notice.kind.name, {})
    held = not notice.kind.critical and notice.digestible and schedule.digests(notice.points)
    status, not_before = ("held", schedule.next_digest(now)) if held else ("pending", schedule.release(now))
    for channel in MEMBER_CHANNELS:
        if channel in available and switches.get(channel):
            planned += [Planned(channel, target, status, not_before) for target in _targets(channel, contact)]
    return planned


def _targets(channel: str, contact: Contact | None) -> list[str | None]:
    if contact is None:
        return []
    if channel == "push":
        return list(contact.push_tokens)
    return [None] if (contact.email if channel == "email" else contact.phone) else []


def _dedupe_key(source: str, channel: str, target: str | None) -> str:
    aimed = hashlib.sha256((target or "").encode()).hexdigest()[:16]
    return f"{source}:{channel}:{aimed}"


def enqueue(session: Session, *, source: str, member_id: str, kind: str, locale: str, context: dict,
            planned: list[Planned]) -> int:
    """Write the delivery rows; a source already written (a redelivered event, a repeated digest) adds none."""
    return write(session, rows_for(source=source, member_id=member_id, kind=kind, locale=locale, context=context,
                                   planned=planned))


def rows_for(*, source: str, member_id: str, kind: str, locale: str, context: dict,
             planned: list[Planned]) -> list[dict]:
    return [dict(id=uuid.uuid5(NAMESPACE, _dedupe_key(source, p.channel, p.target)),
                 dedupe_key=_dedupe_key(source, p.channel, p.target), member_id=member_id, kind=kind,
                 channel=p.channel, target=p.target, locale=locale, context=context, status=p.status,
                 not_before=p.not_before, next_attempt_at=p.not_before) for p in planned]


def write(session: Session, rows: list[dict]) -> int:
    """Delivery rows (of `rows_for`) in one statement; those already written are left as they are."""
    if not rows:
        return 0
    return len(session.execute(_DELIVERIES, rows).all())


# Executed with a list of rows: compiled once, sent as multi-row INSERTs.
_DELIVERIES = insert(Delivery.__table__).on_conflict_do_nothing().returning(Delivery.__table__.c.id)


def gather_digests(session: Session, now: datetime, preferences_of, limit: int = 1000) -> int:
    """Turn small earnings whose digest time has come into one digest message per member and channel."""
    held = session.execute(sa.select(Delivery).where(Delivery.status == "held", Delivery.not_before <= now)
                           .order_by(Delivery.seq).limit(limit).with_for_update(skip_locked=True)).scalars().all()
    groups: dict[tuple, list[Delivery]] = defaultdict(list)
    for row in held:
        groups[(row.member_id, row.channel, row.target, row.not_before)].append(row)
    for (member_id, channel, target, due), rows in groups.items():
        document = preferences_of(session, member_id)
        source = f"digest:{member_id}:{due.isoformat()}"
        context = {"entries": [{"points": r.context["points"], "source_type": r.context.get("source_type")}
                               for r in rows],
                   "total": sum(r.context["points"] for r in rows), "available": rows[-1].context.get("available")}
        release = Schedule.of(document).release(now)
        enqueue(session, source=source, member_id=member_id, kind="points_digest", locale=rows[-1].locale,
                context=context, planned=[Planned(channel, target, "pending", release)])
        digest_id = uuid.uuid5(NAMESPACE, _dedupe_key(source, channel, target))
        for row in rows:
            row.status, row.digest_id = "digested", digest_id
    return len(groups)


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    member_id: str
    kind: str
    channel: str
    target: str | None
    locale: str
    context: dict
    attempts: int


def claim(session: Session, channel: str, now: datetime, *, limit: int, lease: timedelta) -> list[Claimed]:
    """Take due deliveries for one channel; the lease returns them to the queue if this worker dies mid-send."""
    rows = session.execute(
        sa.select(Delivery).where(Delivery.status == "pending", Delivery.channel == channel,
                                  Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at).limit(limit).with_for_update(skip_locked=True)).scalars().all()
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease
    return [Claimed(row.id, row.member_id, row.kind, row.channel, row.target, row.locale, dict(row.context),
                    row.attempts) for row in rows]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    first_delay: timedelta = timedelta(seconds=30)
    longest_delay: timedelta = timedelta(hours=1)

    def delay(self, attempts: int) -> timedelta:
        return min(self.longest_delay, self.first_delay * 2 ** max(0, attempts - 1))


def mark_sent(session: Session, delivery_id: uuid.UUID, provider_id: str | None, now: datetime) -> None:
    session.execute(sa.update(Delivery).where(Delivery.id == delivery_id, Delivery.status == "pending")
                    .values(status="sent", sent_at=now, provider_id=provider_id, last_error=None))


def mark_failed_attempt(session: Session, claimed: Claimed, error: str, *, permanent: bool, policy: RetryPolicy,
                        now: datetime) -> str:
    """Retry after an exponential backoff, or fail for good after the last attempt (or a permanent refusal)."""
    final = permanent or claimed.attempts >= policy.max_attempts
    values = dict(last_error=error[:500], status="failed" if final else "pending")
    if not final:
        values["next_attempt_at"] = now + policy.delay(claimed.attempts)
    session.execute(sa.update(Delivery).where(Delivery.id == claimed.id, Delivery.status == "pending").values(**values))
    return values["status"]


def cancel(session: Session, delivery_id: uuid.UUID, reason: str) -> None:
    session.execute(sa.update(Delivery).where(Delivery.id == delivery_id, Delivery.status == "pending")
                    .values(status="cancelled", last_error=reason))


def page(session: Session, *, member_id: str | None = None, status: str | None = None, limit: int,
         before_seq: int | None) -> list[Delivery]:
    query = sa.select(Delivery)
    if member_id is not None:
        query = query.where(Delivery.member_id == member_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    if before_seq is not None:
        query = query.where(Delivery.seq < before_seq)
    return list(session.execute(query.order_by(Delivery.seq.desc()).limit(limit)).scalars())

