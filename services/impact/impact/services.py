"""The impact service layer: reports, one journey's calculation, and loading factor sets and areas.
Every answer is aggregate or about one journey, never about a member."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from rewards_shared.errors import Invalid, NotFound

from . import factors
from .bootstrap import Impact
from .models import Area, FactorSet, Journey
from .report import html
from .report.build import Options, build
from .report.figures import GROUPINGS, Period
from .report.table import to_csv

LONGEST_PERIOD = timedelta(days=5 * 366)
POSTCODE_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def period(start: date, end: date) -> Period:
    if end < start:
        raise Invalid("`to` is before `from`.", field="to")
    if end - start > LONGEST_PERIOD:
        raise Invalid("A report covers at most five years.", field="to")
    return Period(start, end)


def _read(rt: Impact, options: Options) -> dict:
    """All figures from one snapshot, so they add up even while events keep arriving."""
    with rt.database.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():
            # Distinct member counts sort a year of facts: let them sort in memory, not on disk.
            connection.execute(sa.text("SET LOCAL work_mem = '256MB'"))
            return build(connection, options)


def report(rt: Impact, start: date, end: date, group_by: str | None = None) -> dict:
    if group_by is not None and group_by not in GROUPINGS:
        raise Invalid(f"group_by is one of {', '.join(GROUPINGS)}.", field="group_by")
    return _read(rt, Options(period(start, end), group_by, rt.min_cell, rt.peak_hours))


def report_csv(rt: Impact, start: date, end: date, group_by: str | None = None) -> str:
    return to_csv(report(rt, start, end, group_by))


def report_page(rt: Impact, start: date, end: date) -> str:
    weekly = _read(rt, Options(period(start, end), "week", rt.min_cell, rt.peak_hours, also=("area",)))
    areas = weekly.pop("breakdowns")["area"]["rows"]
    return html.render(weekly, areas, generated=rt.clock())


def journey_impact(rt: Impact, journey_id: str) -> dict:
    with rt.database.transaction() as session:
        journey = session.get(Journey, journey_id)
        if journey is None or journey.voided:
            raise NotFound(f"No journey {journey_id} counts towards the evidence.", field="journey_id")
        baseline = session.execute(sa.text(
            "SELECT usual_mode FROM members WHERE pseudonym = :p AND research_consent"), {"p": journey.pseudonym}
        ).scalar()
    return {"journey_id": journey.journey_id, "mode": journey.mode,
            "km": None if journey.km is None else float(journey.km),
            "baseline_mode": baseline, "factor_set": f"DESNZ {journey.factor_set}",
            "mode_factor_kg_per_km": None if journey.mode_factor is None else float(journey.mode_factor),
            "car_factor_kg_per_km": None if journey.car_factor is None else float(journey.car_factor),
            "co2e_avoided_kg": float(journey.co2e_avoided_kg), "method": factors.METHOD}


def load_factors(rt: Impact, text: str, *, version: str, source: str) -> bool:
    with rt.database.transaction() as session:
        return factors.load(session, text, version=version, source=source)


def factor_sets(rt: Impact) -> list[dict]:
    with rt.database.transaction() as session:
        sets = session.execute(sa.select(FactorSet).order_by(FactorSet.version)).scalars().all()
        return [{"version": s.version, "source": s.source, "loaded_at": s.loaded_at} for s in sets]


def load_areas(rt: Impact, text: str) -> int:
    """Replace the postcode district lookup (`postcode_district, ward, local_authority, imd_decile`)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if "postcode_district" not in (reader.fieldnames or []):
        raise Invalid("The areas file needs a postcode_district column.", field="file")
    rows = {}
    for line, row in enumerate(reader, start=2):
        district = normalise_district(row.get("postcode_district") or "", line=line)
        decile = (row.get("imd_decile") or "").strip()
        if decile and (not decile.isdigit() or not 1 <= int(decile) <= 10):
            raise Invalid(f"line {line}: imd_decile is a whole number from 1 to 10.", field="imd_decile")
        rows[district] = {"postcode_district": district, "ward": (row.get("ward") or "").strip() or None,
                          "local_authority": (row.get("local_authority") or "").strip() or None,
                          "imd_decile": int(decile) if decile else None}
    with rt.database.transaction() as session:
        session.execute(sa.delete(Area))
        if rows:
            session.execute(insert(Area).values(list(rows.values())))
    return len(rows)


def normalise_district(text: str, *, line: int | None = None) -> str:
    district = text.strip().upper().replace(" ", "")
    if not POSTCODE_DISTRICT.match(district):
        where = f"line {line}: " if line else ""
        raise Invalid(f"{where}{text!r} is not a UK postcode district such as LS6.", field="postcode_district")
    return district
