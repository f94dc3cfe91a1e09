"""Journeys from taps: (re)pairing cards in bulk, and telling the ledger what changed.

Journeys are derived from taps, so when taps arrive, change or are voided we derive the card's
journeys again from a little before the earliest affected tap and compare: a new journey is
announced as completed, a changed one as corrected, one that no longer exists as voided. A journey's
id comes from its tap-on, so deriving the same taps again finds the same journeys.

Concurrency: the card's row in `pairing_queue` is the card's lock; whoever (re)pairs a card holds it.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from rewards_shared import outbox
from rewards_shared.events import Event

from .models import CardLink, Journey, Operator, PairingQueue, Stop
from .pairing import JourneyDraft, TapView, estimate_distance, pair

SOURCE = "transit-ingest"
JOURNEY_NAMESPACE = uuid.UUID("0f4b2a8e-3f5c-4c1e-9a0d-2d7b8c6e5f41")
DEFAULT_TIMEOUT = timedelta(hours=3)
RETROACTIVE_WINDOW = timedelta(days=14)
_INSERTED = ("id", "operator_id", "card_hash", "member_id", "kind", "status", "mode", "started_at", "ended_at",
             "route_id", "origin_stop_id", "destination_stop_id", "distance_km", "distance_source", "on_tap_id",
             "off_tap_id", "revision", "announced_revision")

# What ties a journey to a card and a place, cleared when its member is erased or its taps are past retention.
IDENTIFYING_NONE = {"card_hash": None, "route_id": None, "origin_stop_id": None, "destination_stop_id": None}


@dataclass(frozen=True)
class PairingPolicy:
    timeout: timedelta = DEFAULT_TIMEOUT
    retroactive_window: timedelta = RETROACTIVE_WINDOW


def journey_id(operator_id: str, on_tap_id: str) -> str:
    return str(uuid.uuid5(JOURNEY_NAMESPACE, f"{operator_id}|{on_tap_id}"))


def enqueue(session: Session, operator_id: str, cards: Iterable[tuple[bytes, datetime]], *,
            due_at: datetime) -> None:
    """Mark cards for (re)pairing from `since`, due at `due_at`; the earliest of each wins."""
    _queue(session, [{"operator_id": operator_id, "card_hash": card, "since": since, "due_at": due_at}
                     for card, since in cards])


def _queue(session: Session, rows: list[dict]) -> None:
    if not rows:
        return
    statement = insert(PairingQueue)
    session.execute(statement.on_conflict_do_update(
        index_elements=[PairingQueue.operator_id, PairingQueue.card_hash],
        set_={"since": sa.func.least(PairingQueue.since, statement.excluded.since),
              "due_at": sa.func.least(PairingQueue.due_at, statement.excluded.due_at)}), rows)


def drain(session: Session, *, now: datetime, operator_id: str | None = None, cards: list[bytes] | None = None,
          limit: int = 2000, policy: PairingPolicy | None = None) -> int:
    """(Re)pair up to `limit` cards due by `now` (skipping cards another transaction is pairing); how many."""
    query = sa.select(PairingQueue.operator_id, PairingQueue.card_hash, PairingQueue.since) \
        .where(PairingQueue.due_at <= now).order_by(PairingQueue.due_at).limit(limit)
    if operator_id is not None:
        query = query.where(PairingQueue.operator_id == operator_id)
    if cards is not None:
        query = query.where(PairingQueue.card_hash.in_(cards)).with_for_update()
    else:
        query = query.with_for_update(skip_locked=True)
    due = session.execute(query).all()
    if not due:
        return 0
    by_operator: dict[str, dict[bytes, datetime]] = defaultdict(dict)
    for row in due:
        by_operator[row.operator_id][row.card_hash] = row.since
    for operator, since in by_operator.items():
        cards = _array(list(since), sa.LargeBinary)
        session.execute(sa.delete(PairingQueue).where(PairingQueue.operator_id == operator,
                                                      PairingQueue.card_hash == sa.any_(cards)))
        repair(session, operator, since, now=now, policy=policy or policy_for(session, operator))
    return len(due)


def policy_for(session: Session, operator_id: str) -> PairingPolicy:
    minutes = session.execute(sa.select(Operator.pairing_timeout_minutes).where(Operator.id == operator_id)).scalar()
    return PairingPolicy(timeout=timedelta(minutes=minutes) if minutes else DEFAULT_TIMEOUT)


@dataclass
class CardHistory:
    """What is stored for one card from a little before the affected taps."""
    journeys: list[Journey]
    taps: list[TapView]


def repair(session: Session, operator_id: str, since: Mapping[bytes, datetime], *, now: datetime,
           policy: PairingPolicy) -> None:
    """Derive the cards' journeys again from `since` (per card) and record and announce the differences."""
    margin = policy.timeout * 3
    histories = _load_histories(session, operator_id, {card: at - margin for card, at in since.items()})
    links = _links(session, operator_id, list(since))
    plans = {card: _plan(histories[card], since[card] - policy.timeout, now, policy.timeout)
             for card in since}
    stops = _stops(session, operator_id, plans.values())
    for plan in plans.values():
        plan.keys = [journey_id(operator_id, draft.on.tap_id) for draft in plan.drafts]
    existing = _existing(session, plans.values())
    fresh: list[SimpleNamespace] = []
    changed: list[Journey] = []
    waiting: list[dict] = []
    for card, plan in plans.items():
        for key, draft in zip(plan.keys, plan.drafts, strict=True):
            journey, is_new, is_changed = _reconcile(operator_id, card, key, draft, existing.get(key), stops,
                                                     links.get(card, []), policy)
            (fresh if is_new else changed if is_changed else []).append(journey)
        derived = set(plan.keys)
        for released in plan.released:
            if released.id not in derived:
                released.status = "voided"
                released.revision += 1
                released.updated_at = now
                changed.append(released)
        if plan.waiting is not None:
            waiting.append({"operator_id": operator_id, "card_hash": card, "since": plan.waiting,
                            "due_at": plan.waiting + policy.timeout})
    events = [event for journey in fresh + changed if (event := announcement(journey)) is not None]
    _insert(session, fresh)
    session.flush()
    _queue(session, waiting)  # a tap-on still waiting for its tap-off is due again when its timeout runs out
    outbox.add_many(session, events)


def _insert(session: Session, fresh: list[SimpleNamespace]) -> None:
    if not fresh:
        return
    connection = session.connection().connection.driver_connection
    with connection.cursor().copy(f"COPY journeys ({', '.join(_INSERTED)}) FROM STDIN") as copy:
        for journey in fresh:
            copy.write_row([getattr(journey, name) for name in _INSERTED])


@dataclass
class Plan:
    drafts: list[JourneyDraft]
    released: list[Journey]
    waiting: datetime | None
    keys: list[str] = field(default_factory=list)


def _plan(history: CardHistory, start: datetime, now: datetime, timeout: timedelta) -> Plan:
    """Which stored journeys to derive again (all that touch the window) and the drafts that replace them."""
    live = [j for j in history.journeys if j.status == "completed"]
    while True:
        touching = [j for j in live if (j.ended_at or j.started_at) >= start]
        earliest = min((j.started_at for j in touching), default=start)
        if earliest >= start:
            break
        start = earliest
    kept_taps = {tap for j in live if j not in touching for tap in (j.on_tap_id, j.off_tap_id) if tap}
    taps = [t for t in history.taps if t.occurred_at >= start and t.tap_id not in kept_taps]
    result = pair(taps, now=now, timeout=timeout)
    return Plan(result.journeys, touching, result.waiting.occurred_at if result.waiting else None)


def _reconcile(operator_id: str, card: bytes, key: str, draft: JourneyDraft, journey: Journey | None,
               stops: Mapping[str, tuple[float, float]], links: list,
               policy: PairingPolicy) -> tuple[Journey | SimpleNamespace, bool, bool]:
    """The journey for this draft: (journey, new, changed); a new one is a plain row to insert."""
    distance, source = estimate_distance(draft.on, draft.off, stops)
    content = {
        "kind": draft.kind, "mode": draft.on.mode, "started_at": draft.on.occurred_at,
        "ended_at": draft.off.occurred_at if draft.off else None, "route_id": draft.on.route_id,
        "origin_stop_id": draft.on.stop_id, "destination_stop_id": draft.off.stop_id if draft.off else None,
        "distance_km": distance, "distance_source": source, "on_tap_id": draft.on.tap_id,
        "off_tap_id": draft.off.tap_id if draft.off else None,
    }
    member = member_at(links, draft.on.occurred_at, policy.retroactive_window) if links else None
    if journey is None:
        return SimpleNamespace(id=key, operator_id=operator_id, card_hash=card, member_id=member,
                               status="completed", revision=1, announced_revision=0, **content), True, False
    changed = False
    if journey.status != "completed" or any(getattr(journey, k) != v for k, v in content.items()):
        for name, value in content.items():
            setattr(journey, name, value)
        journey.status = "completed"
        journey.revision += 1
        journey.updated_at = sa.func.now()
        changed = True
    if journey.member_id is None and member is not None:
        journey.member_id = member
        changed = True
    return journey, False, changed


def member_at(links: list, travelled_at: datetime, window: timedelta) -> str | None:
    """The member whose card it was when the journey was made: linked then, or linked within
    `window` afterwards (retroactive credit)."""
    retroactive = None
    for link in links:
        if link.unlinked_at is not None and travelled_at >= link.unlinked_at:
            continue
        if link.linked_at <= travelled_at:
            return link.member_id
        if link.linked_at - window <= travelled_at and retroactive is None:
            retroactive = link.member_id
    return retroactive


def announcement(journey: Journey | SimpleNamespace) -> Event | None:
    """The event that tells the ledger this journey's latest revision, if it has not heard it."""
    if journey.member_id is None or journey.announced_revision >= journey.revision:
        return None
    if journey.status == "voided":
        if journey.announced_revision == 0:
            return None
        event = Event.create("transit.journey.voided", SOURCE, journey.member_id, {
            "member_id": journey.member_id, "journey_id": journey.id, "operator_id": journey.operator_id,
            "reason": "its taps were corrected or voided by the operator", "revision": journey.revision})
    else:
        event_type = "transit.journey.completed" if journey.announced_revision == 0 else "transit.journey.corrected"
        event = Event.create(event_type, SOURCE, journey.member_id, {
            "member_id": journey.member_id, "journey_id": journey.id, "operator_id": journey.operator_id,
            "kind": journey.kind, "mode": journey.mode, "started_at": journey.started_at.isoformat(),
            "ended_at": journey.ended_at.isoformat() if journey.ended_at else None, "route_id": journey.route_id,
            "origin_stop_id": journey.origin_stop_id, "destination_stop_id": journey.destination_stop_id,
            "distance_km": journey.distance_km, "distance_source": journey.distance_source,
            "revision": journey.revision})
    journey.announced_revision = journey.revision
    return event


_HISTORY_TAPS = """
    SELECT t.card_hash, t.tap_id, t.occurred_at, t.type, t.outcome, t.mode, t.route_id, t.stop_id,
           t.latitude, t.longitude
    FROM taps t JOIN unnest(%(cards)s::bytea[], %(starts)s::timestamptz[]) AS c(card_hash, start)
      ON t.card_hash = c.card_hash
    WHERE t.operator_id = %(operator)s AND t.outcome = 'allow' AND t.occurred_at >= c.start
"""
_HISTORY_JOURNEYS = sa.text("""
    SELECT j.id FROM journeys j
    JOIN unnest(CAST(:cards AS bytea[]), CAST(:starts AS timestamptz[])) AS c(card_hash, start)
      ON j.card_hash = c.card_hash
    WHERE j.operator_id = :operator AND j.status = 'completed' AND coalesce(j.ended_at, j.started_at) >= c.start
""")


def _load_histories(session: Session, operator_id: str, starts: Mapping[bytes, datetime]) -> dict[bytes, CardHistory]:
    params = {"operator": operator_id, "cards": list(starts), "starts": list(starts.values())}
    histories = {card: CardHistory([], []) for card in starts}
    # Straight from the driver: these are the most rows any query here reads.
    connection = session.connection().connection.driver_connection
    for card, *tap in connection.execute(_HISTORY_TAPS, params).fetchall():
        histories[card].taps.append(TapView(*tap))
    ids = session.execute(_HISTORY_JOURNEYS, params).scalars().all()
    if ids:
        for journey in session.execute(sa.select(Journey).where(Journey.id.in_(ids))).scalars():
            histories[journey.card_hash].journeys.append(journey)
    return histories


def _existing(session: Session, plans: Iterable[Plan]) -> dict[str, Journey]:
    plans = list(plans)
    found = {j.id: j for plan in plans for j in plan.released}
    missing = [key for plan in plans for key in plan.keys if key not in found]
    if missing:
        for journey in session.execute(sa.select(Journey).where(Journey.id == sa.any_(_array(missing, sa.Text)))
                                       ).scalars():
            found[journey.id] = journey
    return found


def _array(values: list, item_type) -> sa.ColumnElement:
    """One array parameter instead of a parameter per value: lists here run to thousands."""
    return sa.cast(sa.bindparam(None, values, type_=ARRAY(item_type)), ARRAY(item_type))


def _links(session: Session, operator_id: str, cards: list[bytes]) -> dict[bytes, list]:
    rows = session.execute(
        sa.select(CardLink.card_hash, CardLink.member_id, CardLink.linked_at, CardLink.unlinked_at)
        .where(CardLink.operator_id == operator_id, CardLink.card_hash == sa.any_(_array(cards, sa.LargeBinary)))
        .order_by(CardLink.linked_at.desc())).all()
    found: dict[bytes, list] = defaultdict(list)
    for row in rows:
        found[row.card_hash].append(row)
    return found


def _stops(session: Session, operator_id: str, plans: Iterable[Plan]) -> dict[str, tuple[float, float]]:
    wanted = {tap.stop_id for plan in plans for d in plan.drafts if d.off is not None
              and (d.on.latitude is None or d.off.latitude is None)
              for tap in (d.on, d.off) if tap.stop_id}
    if not wanted:
        return {}
    rows = session.execute(sa.select(Stop.stop_id, Stop.latitude, Stop.longitude)
                           .where(Stop.operator_id == operator_id, Stop.stop_id.in_(list(wanted))))
    return {row.stop_id: (row.latitude, row.longitude) for row in rows}
