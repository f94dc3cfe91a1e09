"""The report's figures, straight from the facts in a handful of set-based queries. Every figure comes
with the number of distinct members it describes, which is what suppression needs."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

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


MODES = ("bus", "tram", "rail", "train", "ferry", "other", "unknown")
_MODE_BIT = f"(1 << array_position(ARRAY{list(MODES)}::text[], mode))"


def journeys(connection: sa.Connection, period: Period) -> dict:
    """Totals, by mode and by peak/off-peak, with distinct members for each. Sums come from one small
    aggregate; members from one fold of the journeys per member into a bitmask of modes and two flags,
    which then count without any sort."""
    sums = _rows(connection, """
        SELECT mode, peak, factor_set, count(*) AS journeys, COALESCE(sum(km::float8), 0) AS km,
               count(*) - count(km) AS no_km, COALESCE(sum(co2e_avoided_kg::float8), 0) AS co2e
          FROM journeys WHERE day BETWEEN :start AND :end AND NOT voided GROUP BY mode, peak, factor_set""", period)
    counts = ", ".join(f"count(*) FILTER (WHERE modes & {1 << (n + 1)} <> 0) AS {mode}" for n, mode in enumerate(MODES))
    people = _rows(connection, f"""
        SELECT count(*) AS members, count(*) FILTER (WHERE at_peak) AS at_peak,
               count(*) FILTER (WHERE off_peak) AS off_peak, {counts}
          FROM (SELECT pseudonym, bit_or({_MODE_BIT}) AS modes, bool_or(peak) AS at_peak,
                       bool_or(NOT peak) AS off_peak
                  FROM journeys WHERE day BETWEEN :start AND :end AND NOT voided GROUP BY pseudonym) per""",
                   period)[0]
    found: dict = {"total": None, "by_mode": {}, "peak": None, "off_peak": None, "factor_sets": set()}

    def add(slot: dict | None, row, members: int) -> dict:
        slot = slot or {"journeys": 0, "km": 0.0, "km_unknown": 0, "co2e_avoided_kg": 0.0, "members": members}
        slot["journeys"] += row.journeys
        slot["km"] += row.km
        slot["km_unknown"] += row.no_km
        slot["co2e_avoided_kg"] += row.co2e
        return slot

    for row in sums:
        found["total"] = add(found["total"], row, people.members)
        found["by_mode"][row.mode] = add(found["by_mode"].get(row.mode), row, getattr(people, row.mode))
        band = "peak" if row.peak else "off_peak"
        found[band] = add(found[band], row, getattr(people, "at_peak" if row.peak else "off_peak"))
        found["factor_sets"].add(row.factor_set)
    found["factor_sets"] = sorted(found["factor_sets"])
    return found


def volunteering(connection: sa.Connection, period: Period) -> dict:
    row = _rows(connection, """
        SELECT count(*) AS attendances, COALESCE(sum(minutes), 0) AS minutes, count(DISTINCT pseudonym) AS members
          FROM attendances WHERE day BETWEEN :start AND :end""", period)[0]
    return {"attendances": row.attendances, "hours": row.minutes / 60, "members": row.members}


def activities(connection: sa.Connection, period: Period) -> dict:
    """Providers' activities: in all, by kind (with quantity) and by the city's priority each counts for
    (an activity can count for more than one), each with its distinct members; and which kinds make up
    each priority, which secondary suppression needs."""
    in_period = "FROM activities WHERE day BETWEEN :start AND :end AND NOT voided"
    found: dict = {"total": {"count": 0, "members": 0}, "by_kind": {}, "by_priority": {}, "kinds_of": {}}
    for r in _rows(connection, f"""
        SELECT kind, GROUPING(kind) AS all_kinds, min(unit) AS unit, count(*) AS n,
               COALESCE(sum(quantity::float8), 0) AS quantity, count(DISTINCT pseudonym) AS members
          {in_period} GROUP BY GROUPING SETS ((), (kind))""", period):
        if r.all_kinds:
            found["total"] = {"count": r.n, "members": r.members}
        else:
            found["by_kind"][r.kind] = {"count": r.n, "quantity": r.quantity, "unit": r.unit, "members": r.members}
    for r in _rows(connection, f"""
        SELECT priority, count(*) AS n, count(DISTINCT pseudonym) AS members, array_agg(DISTINCT kind) AS kinds
          FROM (SELECT pseudonym, kind, unnest(priorities) AS priority {in_period}) counted GROUP BY priority""",
                   period):
        found["by_priority"][r.priority] = {"count": r.n, "members": r.members}
        found["kinds_of"][r.priority] = sorted(r.kinds)
    return found


def registered(connection: sa.Connection, period: Period) -> dict:
    row = _rows(connection, """
        SELECT count(*) FILTER (WHERE registered_on <= :end) AS registered,
               count(*) FILTER (WHERE registered_on BETWEEN :start AND :end) AS new
          FROM members""", period)[0]
    return {"registered": row.registered, "registered_in_period": row.new}


KINDS = ("issued", "redeemed", "expired", "donated", "reversed", "adjusted", "withdrawn")


def ledger(connection: sa.Connection, period: Period) -> dict:
    """Points by kind in the period and what members hold at its end (the liability), from small aggregates;
    who earned (active), who moved points of each kind, who holds any, and month-to-month retention of
    earners, from one fold of the movements per member into bitmasks."""
    first_month = period.start.replace(day=1)
    months = (period.end.year - first_month.year) * 12 + period.end.month - first_month.month + 1
    sums = _rows(connection, """
        SELECT kind, COALESCE(sum(points) FILTER (WHERE day >= :start), 0) AS points, sum(points) AS ever
          FROM movements WHERE day <= :end GROUP BY kind""", period)
    by_kind = {row.kind: int(row.points) for row in sums}
    held = sum(int(row.ever) for row in sums)
    kind_bit = f"(1 << array_position(ARRAY{list(KINDS)}::text[], kind))"
    counts = ", ".join(f"count(*) FILTER (WHERE kinds & {1 << (n + 1)} <> 0) AS {kind}" for n, kind in enumerate(KINDS))
    row = _rows(connection, f"""
        WITH per AS MATERIALIZED (
          SELECT sum(points) AS balance,
                 bit_or({kind_bit}) FILTER (WHERE day >= :start) AS kinds,
                 bit_or(1::bigint << ((extract(year FROM day)::int - :year) * 12
                                      + extract(month FROM day)::int - :month))
                   FILTER (WHERE kind = 'issued' AND day >= :start) AS months
            FROM movements WHERE day <= :end GROUP BY pseudonym)
        SELECT (SELECT row_to_json(totals) FROM (
                  SELECT count(*) FILTER (WHERE balance > 0) AS holders, {counts} FROM per) totals) AS totals,
               (SELECT json_agg(pairs ORDER BY m) FROM (
                  SELECT m, COALESCE(sum(n) FILTER (WHERE months & (1::bigint << m) <> 0), 0) AS active,
                         COALESCE(sum(n) FILTER (WHERE months & (3::bigint << m) = (3::bigint << m)), 0) AS retained
                    FROM (SELECT months, count(*) AS n FROM per WHERE months IS NOT NULL GROUP BY months) patterns,
                         generate_series(0, :last) m GROUP BY m) pairs) AS retention""",
                period, year=first_month.year, month=first_month.month, last=months - 2)[0]
    totals = row.totals
    points = {kind: {"points": by_kind.get(kind, 0) if kind == "adjusted" else abs(by_kind.get(kind, 0)),
                     "members": totals[kind]} for kind in KINDS}
    points["outstanding"] = {"points": int(held), "members": totals["holders"]}
    retention = [{"month": f"{_add_months(first_month, pair['m']):%Y-%m}", "active": pair["active"],
                  "retained": pair["retained"]} for pair in row.retention or []]
    return {"points": points, "active": totals["issued"], "retention": retention}


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
    travellers = _members_by_bucket(connection, period, by, "journeys", "NOT voided")
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, count(*) AS journeys, COALESCE(sum(km::float8), 0) AS km,
               COALESCE(sum(co2e_avoided_kg::float8), 0) AS co2e
          FROM journeys WHERE day BETWEEN :start AND :end AND NOT voided GROUP BY 1""", period):
        rows[name(r.key)]["journeys"] = {"journeys": int(r.journeys), "km": float(r.km),
                                         "co2e_avoided_kg": float(r.co2e), "members": travellers[r.key]}
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, count(*) AS attendances, COALESCE(sum(minutes), 0) AS minutes,
               count(DISTINCT pseudonym) AS members
          FROM attendances WHERE day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[name(r.key)]["volunteering"] = {"attendances": r.attendances, "hours": r.minutes / 60,
                                             "members": r.members}
    earners = _members_by_bucket(connection, period, by, "movements", "kind = 'issued'")
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, sum(points) AS points FROM movements
         WHERE kind = 'issued' AND day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[name(r.key)]["active"] = {"members": earners[r.key], "points_issued": int(r.points)}
    for r in _rows(connection, f"""
        SELECT {bucket} AS key, count(*) AS redeemed, count(DISTINCT pseudonym) AS members,
               COALESCE(sum(settlement_pence) FILTER (WHERE funded_by = 'council'), 0) AS owed_pence
          FROM redemptions WHERE day BETWEEN :start AND :end GROUP BY 1""", period):
        rows[name(r.key)]["redemptions"] = {"count": r.redeemed, "owed_gbp": int(r.owed_pence) / 100,
                                            "members": r.members}
    return [{"key": key, **_with_empty(figures),
             "redemptions": figures.get("redemptions") or {"count": 0, "owed_gbp": 0.0, "members": 0}}
            for key, figures in sorted(rows.items())]


def _buckets(period: Period, by: str) -> tuple[date, int, str]:
    """The first bucket's start, how many buckets the period spans, and SQL for a day's bucket number."""
    if by == "week":
        origin = period.start - timedelta(days=period.start.weekday())
        return origin, (period.end - origin).days // 7 + 1, "(day - CAST(:origin AS date)) / 7"
    origin = period.start.replace(day=1)
    count = (period.end.year - origin.year) * 12 + period.end.month - origin.month + 1
    return origin, count, ("((extract(year FROM day)::int - extract(year FROM CAST(:origin AS date))::int) * 12"
                           " + extract(month FROM day)::int - extract(month FROM CAST(:origin AS date))::int)")


def _members_by_bucket(connection: sa.Connection, period: Period, by: str, table: str, where: str) -> dict:
    """Distinct members per week or month. Up to 62 buckets, each member's buckets fold into one bigint (one
    hash aggregate per member, then bit tests); beyond, the (bucket, member) pairs are counted."""
    origin, count, index = _buckets(period, by)
    start_of = (lambda n: origin + timedelta(weeks=n)) if by == "week" else (lambda n: _add_months(origin, n))
    if count <= 62:
        rows = _rows(connection, f"""
            WITH per AS (SELECT bit_or(1::bigint << {index}) AS buckets FROM {table}
                          WHERE day BETWEEN :start AND :end AND {where} GROUP BY pseudonym)
            SELECT n, count(*) AS members FROM per, generate_series(0, :last) n
             WHERE buckets & (1::bigint << n) <> 0 GROUP BY n""", period, origin=origin, last=count - 1)
    else:
        rows = _rows(connection, f"""
            SELECT n, count(*) AS members FROM (SELECT DISTINCT {index} AS n, pseudonym FROM {table}
                                                 WHERE day BETWEEN :start AND :end AND {where}) pairs
             GROUP BY n""", period, origin=origin)
    return defaultdict(int, {start_of(r.n): r.members for r in rows})


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
    # Each member has one area: fold their facts per member first, then join the (far fewer) folds to areas.
    for r in _rows(connection, f"""
        SELECT m.home_area AS key, sum(n) AS journeys, COALESCE(sum(km), 0) AS km, COALESCE(sum(co2e), 0) AS co2e,
               count(*) AS members
          FROM (SELECT pseudonym, count(*) AS n, sum(km::float8) AS km, sum(co2e_avoided_kg::float8) AS co2e
                  FROM journeys WHERE day BETWEEN :start AND :end AND NOT voided GROUP BY pseudonym) j
          JOIN ({consenting}) m USING (pseudonym) GROUP BY 1""", period):
        rows[r.key]["journeys"] = {"journeys": int(r.journeys), "km": float(r.km), "co2e_avoided_kg": float(r.co2e),
                                   "members": r.members}
    for r in _rows(connection, f"""
        SELECT m.home_area AS key, count(*) AS members, sum(points) AS points
          FROM (SELECT pseudonym, sum(points) AS points FROM movements
                 WHERE kind = 'issued' AND day BETWEEN :start AND :end GROUP BY pseudonym) v
          JOIN ({consenting}) m USING (pseudonym) GROUP BY 1""", period):
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
