"""Partners and the rewards they offer: what the council's staff manage."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.errors import Conflict, Invalid, NotFound

from .models import Partner, PartnerLocation, Reward

CATEGORIES = ("food_and_drink", "leisure", "wellbeing", "culture", "transport", "shopping", "community", "other")
MAX_VOUCHER_VALID_DAYS = 28  # below the ledger's 30-day hold timeout, so a valid voucher always has its hold


def add_partner(session: Session, *, id: str, name: str, contact_email: str | None = None,
                active: bool = True) -> tuple[Partner, bool]:
    """Register a partner; an existing one with the same details is returned as it is."""
    created = session.execute(insert(Partner).values(id=id, name=name, contact_email=contact_email, active=active)
                              .on_conflict_do_nothing().returning(Partner.id)).first() is not None
    partner = session.get(Partner, id, populate_existing=True)
    if not created and (partner.name, partner.contact_email) != (name, contact_email):
        raise Conflict(f"Partner {id} already exists with other details; change it with PATCH.", field="id")
    return partner, created


def partner(session: Session, partner_id: str) -> Partner:
    found = session.get(Partner, partner_id)
    if found is None:
        raise NotFound(f"No partner {partner_id}.")
    return found


def update_partner(session: Session, partner_id: str, changes: dict[str, Any]) -> Partner:
    found = session.get(Partner, partner_id, with_for_update=True)
    if found is None:
        raise NotFound(f"No partner {partner_id}.")
    return _apply(session, found, changes)


def _apply(session: Session, row: Partner | Reward, changes: dict[str, Any]):
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = sa.func.now()
    session.flush()
    session.refresh(row)
    return row


def partners(session: Session, *, limit: int, after: str | None) -> list[Partner]:
    query = sa.select(Partner).order_by(Partner.id).limit(limit)
    if after is not None:
        query = query.where(Partner.id > after)
    return list(session.execute(query).scalars())


def add_reward(session: Session, terms: dict[str, Any]) -> tuple[Reward, bool]:
    """Put a reward in the catalogue; repeating the same definition is harmless."""
    partner(session, terms["partner_id"])
    _check_terms(terms)
    created = session.execute(insert(Reward).values(**terms).on_conflict_do_nothing()
                              .returning(Reward.id)).first() is not None
    reward = session.get(Reward, terms["id"], populate_existing=True)
    if not created and any(getattr(reward, name) != value for name, value in terms.items() if name != "stock"):
        raise Conflict(f"Reward {terms['id']} already exists with other terms; change it with PATCH.",
                       field="reward_id")
    return reward, created


def update_reward(session: Session, reward_id: str, changes: dict[str, Any]) -> Reward:
    found = session.get(Reward, reward_id, with_for_update=True)
    if found is None:
        raise NotFound(f"No reward {reward_id}.")
    merged = {column: getattr(found, column) for column in ("valid_from", "valid_until", "funded_by",
                                                             "settlement_pence", "voucher_valid_days")}
    merged.update(changes)
    _check_terms(merged)
    return _apply(session, found, changes)


def _check_terms(terms: dict[str, Any]) -> None:
    valid_from, valid_until = terms.get("valid_from"), terms.get("valid_until")
    if valid_from and valid_until and valid_until <= valid_from:
        raise Invalid("The validity window must end after it starts.", field="valid_until")
    if terms.get("funded_by") == "partner" and terms.get("settlement_pence"):
        raise Invalid("A partner-funded reward costs the council nothing; settlement_pence must be 0.",
                      field="settlement_pence")
    if terms.get("voucher_valid_days", 14) > MAX_VOUCHER_VALID_DAYS:
        raise Invalid(f"Vouchers stay valid for at most {MAX_VOUCHER_VALID_DAYS} days.", field="voucher_valid_days")


def reward(session: Session, reward_id: str) -> Reward:
    found = session.get(Reward, reward_id)
    if found is None:
        raise NotFound(f"No reward {reward_id}.")
    return found


def rewards(session: Session, *, limit: int, after: str | None, partner_id: str | None = None,
            available_at: datetime | None = None, category: str | None = None, q: str | None = None) -> list[Reward]:
    """The catalogue in id order; with `available_at`, only what a member could redeem then; `q` is
    looked for in titles and descriptions, whatever the case."""
    query = sa.select(Reward).order_by(Reward.id).limit(limit)
    if after is not None:
        query = query.where(Reward.id > after)
    if partner_id is not None:
        query = query.where(Reward.partner_id == partner_id)
    if category is not None:
        query = query.where(Reward.category == category)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(Reward.title.ilike(pattern, escape="\\"),
                                   Reward.description.ilike(pattern, escape="\\")))
    if available_at is not None:
        query = query.join(Partner).where(*_available_clauses(available_at))
    return list(session.execute(query).scalars())


def _available_clauses(at: datetime):
    return (Reward.active.is_(True), Partner.active.is_(True), Reward.stock > 0,
            sa.or_(Reward.valid_from.is_(None), Reward.valid_from <= at),
            sa.or_(Reward.valid_until.is_(None), Reward.valid_until > at))


def unavailable_because(reward: Reward, partner: Partner, at: datetime) -> str | None:
    """Why a member cannot redeem this reward now, or None when they can."""
    if not reward.active or not partner.active:
        return "withdrawn"
    if reward.valid_from and at < reward.valid_from:
        return "not_yet_open"
    if reward.valid_until and at >= reward.valid_until:
        return "closed"
    if reward.stock <= 0:
        return "out_of_stock"
    return None


def add_location(session: Session, partner_id: str, *, location_id: str, **details) -> PartnerLocation:
    partner(session, partner_id)
    created = session.execute(insert(PartnerLocation).values(partner_id=partner_id, location_id=location_id,
                                                             **details)
                              .on_conflict_do_nothing().returning(PartnerLocation.location_id)).first()
    if created is None:
        raise Conflict(f"Partner {partner_id} has a location {location_id}.", field="location_id")
    return session.get(PartnerLocation, (partner_id, location_id))


def locations(session: Session, partner_id: str, *, limit: int, after: str | None) -> list[PartnerLocation]:
    partner(session, partner_id)
    query = sa.select(PartnerLocation).where(PartnerLocation.partner_id == partner_id) \
        .order_by(PartnerLocation.location_id).limit(limit)
    if after is not None:
        query = query.where(PartnerLocation.location_id > after)
    return list(session.execute(query).scalars())


def remove_location(session: Session, partner_id: str, location_id: str) -> None:
    removed = session.execute(sa.delete(PartnerLocation).where(
        PartnerLocation.partner_id == partner_id, PartnerLocation.location_id == location_id)).rowcount
    if not removed:
        raise NotFound(f"Partner {partner_id} has no location {location_id}.")
