"""The report's figures, straight from the facts in a handful of set-based queries. Every figure comes
with the number of distinct members it describes, which is what suppression needs."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

GROUPINGS = ("week", "month", "mode", "area")
_BUCKET = {"week": "to_char(day, 'IYYY-\"W\"IW')", "month": "to_char(day, 'YYYY-MM')"}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    def params(self) -> dict:
        return {"start": self.start, "end": self.end}


def _rows(connection: sa.Connection, sql: str, period: Period, **extra) -> list:
    return list(connection.execute(sa.text(sql), {**period.params(), **extra}))


def journeys(connection: sa.Connection, period: Period) -> dict:
    """Totals, by mode and by peak/off-peak, with distinct members for each."""
    rows = _rows(connection, """
        SELECT mode, peak, GROUPING(mode) AS all_modes, GROUPING(peak) AS all_peaks,
               count(*) AS journeys, COALESCE(sum(km), 0) AS km, count(*) FILTER (WHERE km IS NULL) AS no_km,
               COALESCE(sum(co2e_avoided_kg), 0) AS co2e, count(DISTINCT pseudonym) AS members,
               array_agg(DISTINCT factor_set) AS factor_sets
          FROM journeys WHERE day BETWEEN :start AND :end AND NOT voided
         GROUP BY GROUPING SETS ((), (mode), (peak))""", period)
    found = {"total": None, "by_mode": {}, "peak": None, "off_peak": None}
    for row in rows:
        figures = {"journeys": row.journeys, "km": float(row.km), "km_unknown": row.no_km,
                   "co2e_avoided_kg": float(row.co2e), "members": row.members, "factor_sets": row.factor_sets}
        if row.all_modes and row.all_peaks:
            found["total"] = figures
        elif not row.all_modes:
            found["by_mode"][row.mode] = figures
        else:
            found["peak" if row.peak else "off_peak"] = figures
    return found


def volunteering(connection: sa.Connection, period: Period) -> dict:
    row = _rows(connection, """
        SELECT count(*) AS attendances, COALESCE(sum(minutes), 0) AS minutes, count(DISTINCT pseudonym) AS members
          FROM attendances WHERE day BETWEEN :start AND :end""", period)[0]
    return {"attendances": row.attendances, "hours": row.minutes / 60, "members": row.members}


def members(connection: sa.Connection, period: Period) -> dict:
    registered = _rows(connection, """
        SELECT count(*) FILTER (WHERE registered_on <= :end) AS registered,
               count(*) FILTER (WHERE registered_on BETWEEN :start AND :end) AS new
          FROM members""", period)[0]
    active = _rows(connection, """
        SELECT count(DISTINCT pseudonym) AS active FROM movements
         WHERE kind = 'issued' AND day BETWEEN :start AND :end""", period)[0]
    return {"registered": registered.registered, "registered_in_period": registered.new, "active": active.active}


def retention(connection: sa.Connection, period: Period) -> list[dict]:
    """For each month of the period followed by another: its earners, and how many earned again the next month."""
    rows = _rows(connection, """
        WITH active AS (
          SELECT DISTINCT pseudonym, date_trunc('month', day)::date AS month FROM movements
           WHERE kind = 'issued' AND day BETWEEN :start AND :end)
        SELECT a.month, count(*) AS active, count(b.pseudonym) AS retained
          FROM active a
          LEFT JOIN active b ON b.pseudonym = a.pseudonym AND b.month = (a.month + interval '1 month')::date
         WHERE a.month < date_trunc('month', CAST(:end AS date))::date
         GROUP BY a.month ORDER BY a.month""", period)
    return [{"month": f"{r.month:%Y-%m}", "active": r.active, "retained": r.retained} for r in rows]


def points(connection: sa.Connection, period: Period) -> dict:
    """Points by kind of movement in the period, and what members still hold at its end (the liability)."""
    rows = _rows(connection, """
        SELECT kind, sum(points) AS points, count(DISTINCT pseudonym) AS members FROM movements
         WHERE day BETWEEN :start AND :end GROUP BY kind""", period)
    found = {kind: {"points": 0, "members": 0} for kind in
             ("issued", "redeemed", "expired", "donated", "reversed", "adjusted", "withdrawn")}
    for row in rows:
        found[row.kind] = {"points": abs(int(row.points)) if row.kind != "adjusted" else int(row.points),
                           "members": row.members}
    held = _rows(connection, """
        SELECT COALESCE(sum(balance), 0) AS points, count(*) FILTER (WHERE balance > 0) AS members
          FROM (SELECT sum(points) AS balance FROM movements WHERE day <= :end GROUP BY pseudonym) balances""",
                 period)[0]
    found["outstanding"] = {"points": int(held.points), "members": held.members}
    return found


def redemptions(connection: sa.Connection, period: Period) -> dict:
    rows = _rows(connection, """
        SELECT partner_id, GROUPING(partner_id) AS all_partners, count(*) AS redeemed,
               count(DISTINCT pseudonym) AS members,
               COALESCE(sum(settlement_pence) FILTER (WHERE funded_by = 'council'), 0) AS owed_pence
          FROM redemptions WHERE day BETWEEN :start AND :end
         GROUP BY GROUPING SETS ((), (partner_id))""", period)
    found = {"total": {"redeemed": 0, "members": 0, "owed_pence": 0}, "by_partner": {}}
    for row in rows:
        figures = {"redeemed": row.redeemed, "members": row.members, "owed_pence": int(row.owed_pence)}
        if row.all_partners:
            found["total"] = figures
        else:
            found["by_partner"][row.partner_id] = figures
    return found


def donations(connection: sa.Connection, period: Period) -> dict[str, dict]:
    rows = _rows(connection, """
        SELECT group_id, -sum(points) AS points, count(DISTINCT pseudonym) AS members FROM movements
         WHERE kind = 'donated' AND day BETWEEN :start AND :end GROUP BY group_id ORDER BY group_id""", period)
    return {r.group_id or "unknown": {"points": int(r.points), "members": r.members} for r in rows}


def series(connection: sa.Connection, period: Period, by: str) -> list[dict]:
    """Rows for `group_by`: journeys, volunteering and earners per week or month, per mode, or per home area
    (members with research consent only, with the area's ward and deprivation decile when loaded)."""
    if by == "mode":
        return [{"key": mode, **figures} for mode, figures in sorted(journeys(connection, period)["by_mode"].items())]
    if by == "area":
        return _by_area(connection, period)
    bucket = _BUCKET[by]
    rows: dict[str, dict] = defaultdict(dict)
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, count(*) AS journeys, COALESCE(sum(km), 0) AS km,
               COALESCE(sum(co2e_avoided_kg), 0) AS co2e, count(DISTINCT pseudonym) AS members
          FROM journeys WHERE day BETWEEN :start AND :end AND NOT voided GROUP BY 1""", period):
        rows[r.key]["journeys"] = {"journeys": r.journeys, "km": float(r.km), "co2e_avoided_kg": float(r.co2e),
                                   "members": r.members}
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, count(*) AS attendances, COALESCE(sum(minutes), 0) AS minutes,
               count(DISTINCT pseudonym) AS members
          FROM attendances WHERE day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[r.key]["volunteering"] = {"attendances": r.attendances, "hours": r.minutes / 60, "members": r.members}
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, count(DISTINCT pseudonym) AS members, sum(points) AS points FROM movements
         WHERE kind = 'issued' AND day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[r.key]["active"] = {"members": r.members, "points_issued": int(r.points)}
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, count(*) AS redeemed, count(DISTINCT pseudonym) AS members,
               COALESCE(sum(settlement_pence) FILTER (WHERE funded_by = 'council'), 0) AS owed_pence
          FROM redemptions WHERE day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[r.key]["redemptions"] = {"count": r.redeemed, "owed_gbp": int(r.owed_pence) / 100, "members": r.members}
    return [{"key": key, **_with_empty(figures),
             "redemptions": figures.get("redemptions") or {"count": 0, "owed_gbp": 0.0, "members": 0}}
            for key, figures in sorted(rows.items())]


def _with_empty(figures: dict) -> dict:
    return {"journeys": figures.get("journeys") or {"journeys": 0, "km": 0.0, "co2e_avoided_kg": 0.0, "members": 0},
            "volunteering": figures.get("volunteering") or {"attendances": 0, "hours": 0.0, "members": 0},
            "active": figures.get("active") or {"members": 0, "points_issued": 0}}


def _by_area(connection: sa.Connection, period: Period) -> list[dict]:
    consenting = "SELECT pseudonym, home_area FROM members WHERE research_consent AND home_area IS NOT NULL"
    rows: dict[str, dict] = defaultdict(dict)
    for r in _rows(connection, """
        SELECT m.home_area AS key, count(*) FILTER (WHERE registered_on <= :end) AS registered
          FROM members m WHERE research_consent AND home_area IS NOT NULL GROUP BY 1""", period):
        rows[r.key]["registered"] = {"members": r.registered}
    for r in _rows(connection, f"""
        SELECT m.home_area AS key, count(*) AS journeys, COALESCE(sum(j.km), 0) AS km,
               COALESCE(sum(j.co2e_avoided_kg), 0) AS co2e, count(DISTINCT j.pseudonym) AS members
          FROM journeys j JOIN ({consenting}) m USING (pseudonym)
         WHERE j.day BETWEEN :start AND :end AND NOT j.voided GROUP BY 1""", period):
        rows[r.key]["journeys"] = {"journeys": r.journeys, "km": float(r.km), "co2e_avoided_kg": float(r.co2e),
                                   "members": r.members}
    for r in _rows(connection, f"""
        SELECT m.home_area AS key, count(DISTINCT v.pseudonym) AS members, sum(v.points) AS points
          FROM movements v JOIN ({consenting}) m USING (pseudonym)
         WHERE v.kind = 'issued' AND v.day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[r.key]["active"] = {"members": r.members, "points_issued": int(r.points)}
    for r in _rows(connection, f"""
        SELECT m.home_area AS key, count(*) AS attendances, COALESCE(sum(a.minutes), 0) AS minutes,
               count(DISTINCT a.pseudonym) AS members
          FROM attendances a JOIN ({consenting}) m USING (pseudonym)
         WHERE a.day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[r.key]["volunteering"] = {"attendances": r.attendances, "hours": r.minutes / 60, "members": r.members}
    areas = {r.postcode_district: r for r in connection.execute(sa.text(
        "SELECT postcode_district, ward, local_authority, imd_decile FROM areas"))}
    out = []
    for key, figures in sorted(rows.items()):
        area = areas.get(key)
        out.append({"key": key, "ward": area.ward if area else None,
                    "local_authority": area.local_authority if area else None,
                    "imd_decile": area.imd_decile if area else None,
                    "registered": figures.get("registered") or {"members": 0}, **_with_empty(figures)})
    return out
