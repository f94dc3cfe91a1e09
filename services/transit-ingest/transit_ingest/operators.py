"""The operator registry: who may send us taps, and how to read their data."""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared.errors import Conflict, Invalid, NotFound

from .formats import OperatorProfile
from .models import Operator

FARE_MODELS = ("variable", "flat")
CARD_REF_FIELDS = ("funding_source_id", "customer_id")


def register(session: Session, *, id: str, **settings) -> Operator:
    if session.get(Operator, id) is not None:
        raise Conflict(f"Operator {id} is already registered.", field="operator_id")
    _check(settings)
    operator = Operator(id=id, **settings)
    session.add(operator)
    session.flush()
    session.refresh(operator)
    return operator


def update(session: Session, operator_id: str, **changes) -> Operator:
    operator = get(session, operator_id)
    _check(changes)
    for name, value in changes.items():
        setattr(operator, name, value)
    operator.updated_at = sa.func.now()
    session.flush()
    session.refresh(operator)
    return operator


def get(session: Session, operator_id: str) -> Operator:
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise NotFound(f"Operator {operator_id} is not registered.")
    return operator


def active(session: Session, operator_id: str) -> Operator:
    """The operator, if it may send taps now."""
    operator = get(session, operator_id)
    if not operator.active:
        raise Conflict(f"Operator {operator_id} is suspended; it cannot send taps.", field="operator_id")
    return operator


def listing(session: Session) -> list[Operator]:
    return list(session.execute(sa.select(Operator).order_by(Operator.id)).scalars())


def profile(operator: Operator) -> OperatorProfile:
    return OperatorProfile(operator_id=operator.id, participant_id=operator.participant_id or operator.id,
                           default_mode=operator.default_mode, fare_model=operator.fare_model,
                           card_ref_field=operator.card_ref_field, timezone=operator.timezone)


def _check(settings: dict) -> None:
    zone = settings.get("timezone")
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(f"Unknown time zone {zone!r}.", field="timezone") from None
