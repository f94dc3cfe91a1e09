"""Finding volunteering opportunities for the app: those in a date range, near a point.

The database narrows by a box around the point (cheap, on plain columns); the great-circle distance
then decides, so a page is filled from as many boxes' rows as it takes."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared import geo

from .models import Opportunity

_KM_PER_DEGREE = math.pi * geo.EARTH_RADIUS_KM / 180


@dataclass(frozen=True)
class Near:
    latitude: float
    longitude: float
    radius_km: float

    def box(self) -> sa.ColumnElement[bool]:
        dlat = self.radius_km / _KM_PER_DEGREE
        dlon = self.radius_km / (_KM_PER_DEGREE * max(math.cos(math.radians(self.latitude)), 0.01))
        return sa.and_(Opportunity.latitude.between(self.latitude - dlat, self.latitude + dlat),
                       Opportunity.longitude.between(self.longitude - dlon, self.longitude + dlon))

    def distance_km(self, opportunity: Opportunity) -> float:
        return geo.distance_km((self.latitude, self.longitude), (opportunity.latitude, opportunity.longitude))


def search(session: Session, *, limit: int, after: tuple[datetime, str] | None, ends_after: datetime,
           starts_before: datetime | None, near: Near | None, organiser_id: str | None) -> list[tuple]:
    """Up to `limit` (opportunity, distance_km or None), soonest first, after the keyset `after`."""
    query = sa.select(Opportunity).where(Opportunity.ends_at > ends_after) \
        .order_by(Opportunity.starts_at, Opportunity.opportunity_id)
    if starts_before is not None:
        query = query.where(Opportunity.starts_at < starts_before)
    if organiser_id is not None:
        query = query.where(Opportunity.organiser_id == organiser_id)
    if near is not None:
        query = query.where(near.box())
    found: list[tuple] = []
    while len(found) < limit:
        keyset = query if after is None else query.where(
            sa.tuple_(Opportunity.starts_at, Opportunity.opportunity_id) > sa.tuple_(*after))
        batch = session.execute(keyset.limit(max(limit, 100))).scalars().all()
        for opportunity in batch:
            distance = near.distance_km(opportunity) if near else None
            if distance is None or distance <= near.radius_km:
                found.append((opportunity, None if distance is None else round(distance, 3)))
        if len(batch) < max(limit, 100):
            break
        after = (batch[-1].starts_at, batch[-1].opportunity_id)
    return found[:limit]
