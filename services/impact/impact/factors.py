"""CO2e factor sets as data: DESNZ passenger-km factors, versioned by year, loaded and never edited.

CO2e avoided by a journey = km × (car factor − mode factor) when the member said (with research consent)
that they made such trips by car before joining; otherwise 0. The car factor is DESNZ's average car of
unknown fuel per vehicle-km, i.e. the member driving alone: an upper bound that the methods section states.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared.errors import Conflict, Invalid, NotFound

from .models import Factor, FactorSet

SHIPPED_VERSION = "2025"
CAR = "average_car_unknown_fuel"
# Journey modes (as transit operators report them) → the DESNZ activity whose factor applies.
MODE_ACTIVITIES = {"bus": "average_local_bus", "tram": "light_rail_and_tram", "rail": "national_rail",
                   "train": "national_rail"}
REQUIRED = (CAR, "average_local_bus", "light_rail_and_tram", "national_rail")
UNITS = ("passenger_km", "vehicle_km")
COLUMNS = ("mode", "unit", "kg_co2e_per_unit")
METHOD = ("km × (car factor − mode factor) for journeys of members who gave research consent and whose usual "
          "mode before joining was car; 0 for everyone else. Car: DESNZ average car, unknown fuel, per vehicle-km "
          "(the member driving alone, an upper bound). Mode: DESNZ passenger-km factor of the journey's mode. "
          "Journeys with no known distance count as 0 km.")


@dataclass(frozen=True)
class Calculation:
    factor_set: str
    mode_factor: Decimal | None
    car_factor: Decimal | None

    def avoided_kg(self, km: Decimal | None, baseline: str | None) -> Decimal:
        if baseline != "car" or km is None or self.mode_factor is None or self.car_factor is None:
            return Decimal(0)
        return max(Decimal(0), km * (self.car_factor - self.mode_factor))


def parse(text: str) -> list[dict]:
    """Rows of a factor file (the columns of DESNZ's published CSV); Invalid naming the line otherwise."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid(f"The factor file needs the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}.",
                      field="file")
    rows, seen = [], set()
    for line, row in enumerate(reader, start=2):
        activity, unit = (row.get("mode") or "").strip(), (row.get("unit") or "").strip()
        try:
            value = Decimal((row.get("kg_co2e_per_unit") or "").strip())
        except InvalidOperation:
            raise Invalid(f"line {line}: kg_co2e_per_unit is not a number.", field="kg_co2e_per_unit") from None
        if not activity or activity in seen:
            raise Invalid(f"line {line}: mode is empty or repeated.", field="mode")
        if unit not in UNITS:
            raise Invalid(f"line {line}: unit must be one of {', '.join(UNITS)}.", field="unit")
        if not value.is_finite() or value < 0:
            raise Invalid(f"line {line}: kg_co2e_per_unit must be zero or more.", field="kg_co2e_per_unit")
        seen.add(activity)
        rows.append({"activity": activity, "unit": unit, "kg_co2e_per_unit": value,
                     "note": (row.get("source_note") or "").strip() or None})
    absent = [a for a in REQUIRED if a not in seen]
    if absent:
        raise Invalid(f"The factor file lacks {', '.join(absent)}.", field="mode")
    return rows


def load(session: Session, text: str, *, version: str, source: str) -> bool:
    """Add a factor set; True when new. Sets are never changed: the same version with other figures is refused."""
    if not version.isdigit() or len(version) != 4:
        raise Invalid("The version is the DESNZ year, e.g. 2026.", field="version")
    rows = parse(text)
    if session.get(FactorSet, version) is not None:
        stored = {f.activity: (f.unit, f.kg_co2e_per_unit) for f in
                  session.execute(sa.select(Factor).where(Factor.version == version)).scalars()}
        if stored != {r["activity"]: (r["unit"], r["kg_co2e_per_unit"]) for r in rows}:
            raise Conflict(f"Factor set {version} is loaded with other figures; sets are never changed, "
                           "load the new figures under a new version.", field="version")
        return False
    session.add(FactorSet(version=version, source=source))
    session.flush()
    session.add_all(Factor(version=version, **row) for row in rows)
    return True


def shipped_text(version: str = SHIPPED_VERSION) -> str:
    return resources.files(__package__).joinpath(f"data/desnz-{version}.csv").read_text()


class FactorBook:
    """The factor sets in the database, read once per transaction: the set for a day is the newest year
    not after the day's year (or the oldest set, for days before any)."""

    def __init__(self, session: Session):
        self.values: dict[str, dict[str, Decimal]] = {}
        for factor in session.execute(sa.select(Factor)).scalars():
            self.values.setdefault(factor.version, {})[factor.activity] = factor.kg_co2e_per_unit
        if not self.values:
            raise NotFound("No CO2e factor set is loaded.")
        self.versions = sorted(self.values)

    @classmethod
    def of(cls, session: Session) -> FactorBook:
        book = session.info.get("factor_book")
        if book is None:
            book = session.info["factor_book"] = cls(session)
        return book

    def version_for(self, day: date) -> str:
        eligible = [v for v in self.versions if int(v) <= day.year]
        return eligible[-1] if eligible else self.versions[0]

    def calculation(self, mode: str, day: date, version: str | None = None) -> Calculation:
        version = version or self.version_for(day)
        values = self.values[version]
        activity = MODE_ACTIVITIES.get(mode)
        return Calculation(version, values.get(activity) if activity else None, values.get(CAR))
