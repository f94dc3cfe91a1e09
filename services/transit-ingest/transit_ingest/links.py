"""Linking a member's card, so their taps become their journeys."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared.errors import Conflict, Invalid, NotFound
from rewards_shared.runtime import utc_now

from . import journeys
from .cards import CardHasher, hint
from .models import CardLink, Journey, Operator, PairingQueue, Tap

RETROACTIVE_WINDOW = journeys.RETROACTIVE_WINDOW


def link(session: Session, hasher: CardHasher, *, member_id: str, operator_id: str, card_ref: str,
         now: datetime | None = None) -> tuple[CardLink, bool]:
    """Link the card to the member; (link, created). A card linked to someone else is a conflict.
    The card's journeys from the retroactive window before now become the member's."""
    if session.get(Operator, operator_id) is None:
        raise Invalid(f"Operator {operator_id} is not registered.", field="operator_id")
    now = now or utc_now()
    card_hash = hasher(operator_id, card_ref)
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(operator_id + card_hash.hex()))))
    existing = _active(session, operator_id, card_hash)
    if existing is not None:
        if existing.member_id != member_id:
            raise Conflict("This card is already linked to another member.", field="card_ref")
        return existing, False
    created = CardLink(operator_id=operator_id, card_hash=card_hash, card_hint=hint(card_ref), member_id=member_id,
                       linked_at=now)
    session.add(created)
    session.flush()
    journeys.enqueue(session, operator_id, [(card_hash, now - RETROACTIVE_WINDOW)], due_at=now)
    journeys.drain(session, now=now, operator_id=operator_id, cards=[card_hash], limit=1)
    return created, True


def unlink(session: Session, hasher: CardHasher, *, operator_id: str, card_ref: str, now: datetime) -> None:
    """Later journeys of the card earn nothing; those already credited stay credited."""
    existing = _active(session, operator_id, hasher(operator_id, card_ref))
    if existing is None:
        raise NotFound("No such card link.")
    existing.unlinked_at = now


def _active(session: Session, operator_id: str, card_hash: bytes) -> CardLink | None:
    return session.execute(
        sa.select(CardLink).where(CardLink.operator_id == operator_id, CardLink.card_hash == card_hash,
                                  CardLink.unlinked_at.is_(None))
    ).scalar_one_or_none()


def links_of(session: Session, member_id: str, *, limit: int | None = None,
             after: tuple[datetime, int] | None = None) -> list[CardLink]:
    """The member's links, oldest first, after the keyset (linked_at, id)."""
    query = sa.select(CardLink).where(CardLink.member_id == member_id).order_by(CardLink.linked_at, CardLink.id)
    if after is not None:
        query = query.where(sa.tuple_(CardLink.linked_at, CardLink.id) > sa.tuple_(*after))
    return list(session.execute(query.limit(limit)).scalars())


def journeys_of(session: Session, member_id: str, *, limit: int,
                before: tuple[datetime, str] | None = None) -> list[dict]:
    """The member's journeys, newest first, each with the hint of the card it was made on (never the card)."""
    card_hint = (sa.select(CardLink.card_hint)
                 .where(CardLink.operator_id == Journey.operator_id, CardLink.card_hash == Journey.card_hash)
                 .order_by(CardLink.linked_at.desc()).limit(1).scalar_subquery())
    query = (sa.select(Journey, card_hint.label("card_hint")).where(Journey.member_id == member_id)
             .order_by(Journey.started_at.desc(), Journey.id.desc()).limit(limit))
    if before is not None:
        query = query.where(sa.tuple_(Journey.started_at, Journey.id) < sa.tuple_(*before))
    return [{**{column.key: getattr(journey, column.key) for column in _SHOWN}, "journey_id": journey.id,
             "card_hint": shown_hint} for journey, shown_hint in session.execute(query)]


_SHOWN = [Journey.operator_id, Journey.kind, Journey.status, Journey.mode, Journey.started_at, Journey.ended_at,
          Journey.route_id, Journey.origin_stop_id, Journey.destination_stop_id, Journey.distance_km,
          Journey.distance_source, Journey.revision]


def unlink_own(session: Session, hasher: CardHasher, *, member_id: str, operator_id: str, card_ref: str,
               now: datetime) -> None:
    """A member-bound credential unlinks only its member's card: another member's is not found."""
    existing = _active(session, operator_id, hasher(operator_id, card_ref))
    if existing is None or existing.member_id != member_id:
        raise NotFound("No such card link.")
    existing.unlinked_at = now


def member_cards(session: Session, member_id: str) -> list[tuple[str, bytes]]:
    """Every card the member ever linked, as (operator, card hash)."""
    return [tuple(row) for row in session.execute(
        sa.select(CardLink.operator_id, CardLink.card_hash).where(CardLink.member_id == member_id).distinct())]


def forget_member(session: Session, member_id: str) -> int:
    """Erasure: the member's links go, with every tap of their cards; their journeys lose the member and
    the card (the ledger and the impact service have what they need). Taps of those cards that arrive
    later belong to nobody. How many cards."""
    cards = member_cards(session, member_id)
    session.execute(sa.delete(CardLink).where(CardLink.member_id == member_id))
    theirs = sa.tuple_(Journey.operator_id, Journey.card_hash).in_(cards) if cards else sa.false()
    session.execute(sa.update(Journey).where(sa.or_(Journey.member_id == member_id, theirs))
                    .values(member_id=None, **journeys.IDENTIFYING_NONE))
    for model in (PairingQueue, Tap):
        if cards:
            session.execute(sa.delete(model).where(sa.tuple_(model.operator_id, model.card_hash).in_(cards)))
    return len(cards)
