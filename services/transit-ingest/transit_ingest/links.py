"""Linking a member's card, so their taps become their journeys."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared.errors import Conflict, NotFound

from .cards import CardHasher, hint
from .ingest import announce
from .models import CardLink, Journey

RETROACTIVE_WINDOW = timedelta(days=14)


def link(session: Session, hasher: CardHasher, *, member_id: str, operator_id: str,
         card_ref: str) -> tuple[CardLink, bool]:
    """Link the card to the member; (link, created). A card linked to someone else is a conflict."""
    card_hash = hasher(operator_id, card_ref)
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(operator_id + card_hash.hex()))))
    existing = _active(session, operator_id, card_hash)
    if existing is not None:
        if existing.member_id != member_id:
            raise Conflict("This card is already linked to another member.", field="card_ref")
        return existing, False
    created = CardLink(operator_id=operator_id, card_hash=card_hash, card_hint=hint(card_ref), member_id=member_id)
    session.add(created)
    session.flush()
    credit_earlier_journeys(session, created)
    return created, True


def credit_earlier_journeys(session: Session, card_link: CardLink) -> int:
    """Journeys the card made before it was linked, within the window, become the member's."""
    earlier = session.execute(
        sa.select(Journey).where(Journey.operator_id == card_link.operator_id,
                                 Journey.card_hash == card_link.card_hash, Journey.member_id.is_(None),
                                 Journey.started_at >= card_link.linked_at - RETROACTIVE_WINDOW)
        .order_by(Journey.started_at)
    ).scalars().all()
    for journey in earlier:
        journey.member_id = card_link.member_id
        announce(session, journey)
    return len(earlier)


def unlink(session: Session, hasher: CardHasher, *, operator_id: str, card_ref: str) -> None:
    existing = _active(session, operator_id, hasher(operator_id, card_ref))
    if existing is None:
        raise NotFound("No such card link.")
    existing.unlinked_at = datetime.now(UTC)


def _active(session: Session, operator_id: str, card_hash: bytes) -> CardLink | None:
    return session.execute(
        sa.select(CardLink).where(CardLink.operator_id == operator_id, CardLink.card_hash == card_hash,
                                  CardLink.unlinked_at.is_(None))
    ).scalar_one_or_none()
