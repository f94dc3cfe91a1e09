"""The report's figures, straight from the facts in a handful of set-based queries. Every figure comes
with the number of distinct members it describes, which is what suppression needs."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from ..calendar import iso_week, month_of

GROUPINGS = ("week", "month", "mode", "area")
_BUCKET = {"week": "date_trunc('week', day)::date", "month": "date_trunc('month', day)::date"}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    def params(self) -> dict:
        return {"start": self.start, "end": self.end}


def _rows(connection: sa.Connection, sql: str, period: Period, **extra) -> list:
    return list(connection.execute(sa.text(sql), {**period.params(), **extra}))


def journeys(connection: sa.Connection, period: Period) -> dict:
    """Totals, by mode and by peak/off-peak, with distinct members for each: one scan that folds the journeys
    into one row per member, mode and hour band, then counts from those (hash aggregates, not sorts)."""
    rows = _rows(connection, """
        WITH per AS MATERIALIZED (
          SELECT pseudonym, mode, peak, factor_set, count(*) AS n, sum(km::float8) AS km,
                 count(*) - count(km) AS no_km, sum(co2e_avoided_kg::float8) AS co2e
            FROM journeys WHERE day BETWEEN :start AND :end AND NOT voided
           GROUP BY pseudonym, mode, peak, factor_set),
        people AS (SELECT pseudonym, bool_or(peak) AS at_peak, bool_or(NOT peak) AS off_peak FROM per GROUP BY 1),
        modes AS (SELECT mode, count(*) AS members FROM (SELECT DISTINCT mode, pseudonym FROM per) d GROUP BY 1)
        SELECT 'mode' AS slice, p.mode AS key, sum(n) AS journeys, COALESCE(sum(km), 0) AS km, sum(no_km) AS no_km,
               COALESCE(sum(co2e), 0) AS co2e, min(m.members) AS members
          FROM per p JOIN modes m USING (mode) GROUP BY p.mode
        UNION ALL
        SELECT 'peak', peak::text, sum(n), COALESCE(sum(km), 0), sum(no_km), COALESCE(sum(co2e), 0),
               (SELECT count(*) FILTER (WHERE CASE WHEN per.peak THEN at_peak ELSE off_peak END) FROM people)
          FROM per GROUP BY peak
        UNION ALL
        SELECT 'total', NULL, sum(n), COALESCE(sum(km), 0), sum(no_km), COALESCE(sum(co2e), 0),
               (SELECT count(*) FROM people) FROM per
        UNION ALL
        SELECT 'factor_set', factor_set, NULL, NULL, NULL, NULL, NULL FROM per GROUP BY factor_set""", period)
    found: dict = {"total": None, "by_mode": {}, "peak": None, "off_peak": None, "factor_sets": []}
    for row in rows:
        if row.slice == "factor_set":
            found["factor_sets"].append(row.key)
            continue
        if not row.journeys:
            continue
        figures = {"journeys": int(row.journeys), "km": float(row.km), "km_unknown": int(row.no_km),
                   "co2e_avoided_kg": float(row.co2e), "members": int(row.members)}
        if row.slice == "total":
            found["total"] = figures
        elif row.slice == "mode":
            found["by_mode"][row.key] = figures
        else:
            found["peak" if row.key == "true" else "off_peak"] = figures
    return found


def volunteering(connection: sa.Connection, period: Period) -> dict:
    row = _rows(connection, """
        SELECT count(*) AS attendances, COALESCE(sum(minutes), 0) AS minutes, count(DISTINCT pseudonym) AS members
          FROM attendances WHERE day BETWEEN :start AND :end""", period)[0]
    return {"attendances": row.attendances, "hours": row.minutes / 60, "members": row.members}


def registered(connection: sa.Connection, period: Period) -> dict:
    row = _rows(connection, """
        SELECT count(*) FILTER (WHERE registered_on <= :end) AS registered,
               count(*) FILTER (WHERE registered_on BETWEEN :start AND :end) AS new
          FROM members""", period)[0]
    return {"registered": row.registered, "registered_in_period": row.new}


KINDS = ("issued", "redeemed", "expired", "donated", "reversed", "adjusted", "withdrawn")


def ledger(connection: sa.Connection, period: Period) -> dict:
    """From one pass over the ledger's movements, folded per member: points by kind in the period, what members
    hold at its end (the liability), who earned (active), and month-to-month retention of earners."""
    first_month = period.start.replace(day=1)
    months = (period.end.year - first_month.year) * 12 + period.end.month - first_month.month + 1
    in_period = "day BETWEEN :start AND :end"
    sums = ",\n".join(f"sum(points) FILTER (WHERE kind = '{k}' AND {in_period}) AS {k}" for k in KINDS)
    row = _rows(connection, f"""
        WITH per AS MATERIALIZED (
          SELECT pseudonym, sum(points) AS balance, {sums},
                 bit_or(1::bigint << ((extract(year FROM day)::int - :year) * 12
                                      + extract(month FROM day)::int - :month))
                   FILTER (WHERE kind = 'issued' AND {in_period}) AS months
            FROM movements WHERE day <= :end GROUP BY pseudonym)
        SELECT (SELECT row_to_json(totals) FROM (
                  SELECT COALESCE(sum(balance), 0) AS balance, count(*) FILTER (WHERE balance > 0) AS holders,
                         count(months) AS active,
                         {", ".join(f"COALESCE(sum({k}), 0) AS {k}, count({k}) AS {k}_members" for k in KINDS)}
                    FROM per) totals) AS totals,
               (SELECT json_agg(pairs ORDER BY m) FROM (
                  SELECT m, count(*) FILTER (WHERE months & (1::bigint << m) <> 0) AS active,
                         count(*) FILTER (WHERE months & (3::bigint << m) = (3::bigint << m)) AS retained
                    FROM per, generate_series(0, :last) m GROUP BY m) pairs) AS retention""", period,
                year=first_month.year, month=first_month.month, last=months - 2)[0]
    totals = row.totals
    points = {kind: {"points": int(totals[kind]) if kind == "adjusted" else abs(int(totals[kind])),
                     "members": totals[f"{kind}_members"]} for kind in KINDS}
    points["outstanding"] = {"points": int(totals["balance"]), "members": totals["holders"]}
    retention = [{"month": f"{_add_months(first_month, pair['m']):%Y-%m}", "active": pair["active"],
                  "retained": pair["retained"]} for pair in row.retention or []]
    return {"points": points, "active": totals["active"], "retention": retention}


def _add_months(first: date, count: int) -> date:
    return date(first.year + (first.month - 1 + count) // 12, (first.month - 1 + count) % 12 + 1, 1)


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
    name = iso_week if by == "week" else month_of
    rows: dict[str, dict] = defaultdict(dict)
    for r in _rows(connection, f"""
        SELECT key, sum(n) AS journeys, COALESCE(sum(km), 0) AS km, COALESCE(sum(co2e), 0) AS co2e,
               count(*) AS members
          FROM (SELECT {bucket} AS key, pseudonym, count(*) AS n, sum(km::float8) AS km,
                       sum(co2e_avoided_kg::float8) AS co2e
                  FROM journeys WHERE day BETWEEN :start AND :end AND NOT voided GROUP BY 1, 2) per
         GROUP BY key""", period):
        rows[name(r.key)]["journeys"] = {"journeys": int(r.journeys), "km": float(r.km),
                                         "co2e_avoided_kg": float(r.co2e), "members": r.members}
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, count(*) AS attendances, COALESCE(sum(minutes), 0) AS minutes,
               count(DISTINCT pseudonym) AS members
          FROM attendances WHERE day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[name(r.key)]["volunteering"] = {"attendances": r.attendances, "hours": r.minutes / 60,
                                             "members": r.members}
    for r in _rows(connection, f"""
        SELECT key, count(*) AS members, sum(points) AS points
          FROM (SELECT {bucket} AS key, pseudonym, sum(points) AS points FROM movements
                 WHERE kind = 'issued' AND day BETWEEN :start AND :end GROUP BY 1, 2) per
         GROUP BY key""", period):
        rows[name(r.key)]["active"] = {"members": r.members, "points_issued": int(r.points)}
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, count(*) AS redeemed, count(DISTINCT pseudonym) AS members,
               COALESCE(sum(settlement_pence) FILTER (WHERE funded_by = 'council'), 0) AS owed_pence
          FROM redemptions WHERE day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[name(r.key)]["redemptions"] = {"count": r.redeemed, "owed_gbp": int(r.owed_pence) / 100,
                                            "members": r.members}
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
