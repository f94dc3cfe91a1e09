"""Pairing one card's taps into journeys, by time order. Pure: no database, no clock."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from rewards_shared import geo


@dataclass(frozen=True)
class TapView:
    tap_id: str
    occurred_at: datetime
    type: str
    outcome: str
    mode: str
    route_id: str | None = None
    stop_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class JourneyDraft:
    kind: str
    on: TapView
    off: TapView | None = None

    @property
    def distance_km(self) -> float | None:
        if self.off is None:
            return None
        return distance_km(self.on, self.off)


@dataclass(frozen=True)
class Pairing:
    journeys: list[JourneyDraft]
    waiting: TapView | None
    unmatched: list[TapView]


def pair(taps: list[TapView], *, now: datetime, timeout: timedelta) -> Pairing:
    """Tap-on then tap-off makes a journey; `single` is a flat-fare journey; a tap-on left
    alone longer than `timeout` becomes incomplete; denied taps never count."""
    journeys: list[JourneyDraft] = []
    unmatched: list[TapView] = []
    open_on: TapView | None = None
    for tap in sorted((t for t in taps if t.outcome == "allow"), key=lambda t: (t.occurred_at, t.tap_id)):
        if open_on is not None and tap.occurred_at - open_on.occurred_at > timeout:
            journeys.append(JourneyDraft("incomplete", open_on))
            open_on = None
        if tap.type == "single":
            journeys.append(JourneyDraft("single", tap))
        elif tap.type == "on":
            if open_on is not None:
                journeys.append(JourneyDraft("incomplete", open_on))
            open_on = tap
        elif open_on is not None:
            journeys.append(JourneyDraft("paired", open_on, tap))
            open_on = None
        else:
            unmatched.append(tap)
    if open_on is not None and now - open_on.occurred_at > timeout:
        journeys.append(JourneyDraft("incomplete", open_on))
        open_on = None
    return Pairing(journeys, open_on, unmatched)


def distance_km(a: TapView, b: TapView) -> float | None:
    """Great-circle distance between two taps' positions, when both have one."""
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None
    return _km((a.latitude, a.longitude), (b.latitude, b.longitude))


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """To the metre: journeys store and announce their distance so."""
    return round(geo.distance_km(a, b), 3)


def estimate_distance(on: TapView, off: TapView | None,
                      stops: Mapping[str, tuple[float, float]]) -> tuple[float | None, str | None]:
    """(km, source): from the taps' own positions, else from their stops' positions, else unknown."""
    if off is None:
        return None, None
    from_taps = distance_km(on, off)
    if from_taps is not None:
        return from_taps, "taps"
    origin, destination = stops.get(on.stop_id or ""), stops.get(off.stop_id or "")
    if origin and destination:
        return _km(origin, destination), "stops"
    return None, None
