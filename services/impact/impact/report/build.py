"""The impact report: figures for a period, every cell checked for small numbers, as one document."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from rewards_shared.events.schemas import PRIORITIES

from .. import factors
from ..calendar import PeakHours
from . import figures
from .figures import Period
from .suppression import Cell, Margin, suppress

COST_METHOD = ("Cost is what the council owes partners for redeemed council-funded rewards, at the settlement "
               "price agreed when each was requested; per active member and per tonne CO2e avoided divide it by "
               "those figures for the same period.")
CONSENT_METHOD = ("Members without research consent count only in scheme totals; areas and the baseline travel "
                  "survey (and so CO2e avoided) use only members who consented, as they stand today.")
ACTIVE_METHOD = "Active: earned points at least once in the period. Days are Europe/London days, both ends included."


@dataclass(frozen=True)
class Options:
    period: Period
    group_by: str | None
    min_cell: int
    peak_hours: PeakHours
    also: tuple[str, ...] = ()


def _round(value, places: int):
    return None if value is None else round(float(value), places)


def build(connection: sa.Connection, options: Options) -> dict:
    period, k = options.period, options.min_cell
    cells: dict[tuple, Cell] = {}
    margins: list[Margin] = []

    def cell(path: tuple, described: int, /, **values) -> Cell:
        cells[path] = Cell(path, described, values)
        return cells[path]

    people = figures.registered(connection, period)
    books = figures.ledger(connection, period)
    cell(("members", "registered"), people["registered"], value=people["registered"])
    cell(("members", "registered_in_period"), people["registered_in_period"], value=people["registered_in_period"])
    active = cell(("members", "active"), books["active"], value=books["active"])
    retention = books["retention"]
    for month in retention:
        cell(("members", "retention", month["month"], "active"), month["active"], value=month["active"])
        cell(("members", "retention", month["month"], "retained"), month["retained"], value=month["retained"])

    trips = figures.journeys(connection, period)
    total = trips["total"] or {"journeys": 0, "km": 0.0, "km_unknown": 0, "co2e_avoided_kg": 0.0, "members": 0}
    cell(("journeys",), total["members"], count=total["journeys"], km=_round(total["km"], 3),
         km_unknown=total["km_unknown"], members=total["members"])
    co2e = cell(("co2e_avoided_kg",), total["members"], value=_round(total["co2e_avoided_kg"], 3))
    for mode, f in trips["by_mode"].items():
        cell(("journeys", "by_mode", mode), f["members"], count=f["journeys"], km=_round(f["km"], 3),
             co2e_avoided_kg=_round(f["co2e_avoided_kg"], 3), members=f["members"])
    margins.append(Margin(("journeys",), tuple(("journeys", "by_mode", m) for m in trips["by_mode"])))
    margins.append(Margin(("co2e_avoided_kg",), tuple(("journeys", "by_mode", m) for m in trips["by_mode"])))
    for name in ("peak", "off_peak"):
        f = trips[name] or {"journeys": 0, "km": 0.0, "members": 0}
        cell(("journeys", name), f["members"], count=f["journeys"], km=_round(f["km"], 3), members=f["members"])
    margins.append(Margin(("journeys",), (("journeys", "peak"), ("journeys", "off_peak"))))

    helping = figures.volunteering(connection, period)
    cell(("volunteering",), helping["members"], attendances=helping["attendances"],
         hours=_round(helping["hours"], 2), members=helping["members"])

    attested = figures.activities(connection, period)
    cell(("activities",), attested["total"]["members"], **attested["total"])
    for kind, f in attested["by_kind"].items():
        cell(("activities", "by_kind", kind), f["members"], count=f["count"], quantity=_round(f["quantity"], 3),
             members=f["members"])
    for priority in PRIORITIES:
        f = attested["by_priority"].get(priority, {"count": 0, "members": 0})
        cell(("activities", "by_priority", priority), f["members"], **f)
    margins.append(Margin(("activities",), tuple(("activities", "by_kind", k) for k in attested["by_kind"])))
    for priority, kinds in attested["kinds_of"].items():
        margins.append(Margin(("activities", "by_priority", priority),
                              tuple(("activities", "by_kind", k) for k in kinds)))

    money = books["points"]
    for kind, f in money.items():
        cell(("points", kind), f["members"], value=f["points"])

    redeemed = figures.redemptions(connection, period)
    owed = cell(("cost", "owed_to_partners_gbp"), redeemed["total"]["members"],
                value=redeemed["total"]["owed_pence"] / 100)
    cell(("redemptions",), redeemed["total"]["members"], count=redeemed["total"]["redeemed"],
         members=redeemed["total"]["members"])
    for partner, f in redeemed["by_partner"].items():
        cell(("redemptions", "by_partner", partner), f["members"], count=f["redeemed"], members=f["members"],
             owed_gbp=f["owed_pence"] / 100)
    margins.append(Margin(("redemptions",), tuple(("redemptions", "by_partner", p) for p in redeemed["by_partner"])))
    margins.append(Margin(("cost", "owed_to_partners_gbp"),
                          tuple(("redemptions", "by_partner", p) for p in redeemed["by_partner"])))

    gifts = figures.donations(connection, period)
    for group, f in gifts.items():
        cell(("groups", group), f["members"], donated=f["points"], donors=f["members"])
    margins.append(Margin(("points", "donated"), tuple(("groups", g) for g in gifts)))

    # The breakdown asked for, and any further ones computed in the same snapshot (the HTML page wants two).
    series = {by: figures.series(connection, period, by) for by in (options.group_by, *options.also) if by}
    prefixes = {by: ("breakdown",) if by == options.group_by else ("breakdowns", by) for by in series}
    for by, rows in series.items():
        _series_cells(rows, by, cell, margins, prefixes[by])

    suppressed = suppress(cells, margins, k)
    per_member = cell(("cost", "per_active_member_gbp"), 0, value=_ratio(owed, active, 1))
    per_tonne = cell(("cost", "per_tonne_co2e_gbp"), 0, value=_ratio(owed, co2e, 1000))
    for derived, sources in ((per_member, (owed, active)), (per_tonne, (owed, co2e))):
        hidden = [s.name for s in sources if s.hidden]
        if hidden:
            derived.reason = f"derived from suppressed {', '.join(hidden)}"
            suppressed.append({"cell": derived.name, "reason": derived.reason})

    def get(path, field="value"):
        found = cells.get(path)
        return None if found is None or found.hidden else found.values.get(field)

    def values(path):
        found = cells[path]
        return {name: (None if found.hidden else value) for name, value in found.values.items()}

    factor_sets = sorted(trips["factor_sets"]) or [factors.SHIPPED_VERSION]
    report = {
        "from": period.start.isoformat(), "to": period.end.isoformat(),
        "method": {"co2e": factors.METHOD, "factor_set": ", ".join(f"DESNZ {v}" for v in factor_sets),
                   "factor_sets": factor_sets, "min_cell": k, "peak": options.peak_hours.describe(),
                   "active": ACTIVE_METHOD, "consent": CONSENT_METHOD, "cost": COST_METHOD,
                   "suppression": f"Cells describing 1 to {k - 1} members are null, with secondary suppression so "
                                  "no hidden cell can be recovered by subtracting the others from a total."},
        "members": {
            "registered": get(("members", "registered")),
            "registered_in_period": get(("members", "registered_in_period")),
            "active": get(("members", "active")),
            "retention": _retention(retention, get),
        },
        "journeys": {**values(("journeys",)),
                     "by_mode": {m: values(("journeys", "by_mode", m)) for m in sorted(trips["by_mode"])},
                     "peak": values(("journeys", "peak")), "off_peak": values(("journeys", "off_peak"))},
        "co2e_avoided_kg": get(("co2e_avoided_kg",)),
        "volunteering": values(("volunteering",)),
        "activities": {**values(("activities",)),
                       "by_priority": {p: values(("activities", "by_priority", p)) for p in PRIORITIES},
                       "by_kind": {k: {**values(("activities", "by_kind", k)), "unit": attested["by_kind"][k]["unit"]}
                                   for k in sorted(attested["by_kind"])}},
        "points": {kind: get(("points", kind)) for kind in money},
        "redemptions": {**values(("redemptions",)),
                        "by_partner": {p: values(("redemptions", "by_partner", p))
                                       for p in sorted(redeemed["by_partner"])}},
        "cost": {"owed_to_partners_gbp": get(("cost", "owed_to_partners_gbp")),
                 "per_active_member_gbp": get(("cost", "per_active_member_gbp")),
                 "per_tonne_co2e_gbp": get(("cost", "per_tonne_co2e_gbp"))},
        "groups": [{"group_id": g, **values(("groups", g))} for g in sorted(gifts)],
        "suppressed": suppressed,
    }
    for by, rows in series.items():
        shaped = {"by": by, "rows": [_row(r, by, values, prefixes[by]) for r in rows]}
        if by == options.group_by:
            report["breakdown"] = shaped
        else:
            report.setdefault("breakdowns", {})[by] = shaped
    return report


def _ratio(numerator: Cell, denominator: Cell, scale: float) -> float | None:
    top, bottom = numerator.values.get("value"), denominator.values.get("value")
    if top is None or not bottom:
        return None
    return round(top / (bottom / scale), 2)


def _retention(months: list[dict], get) -> dict:
    by_month = []
    pooled_active = pooled_retained = 0
    complete = True
    for month in months:
        active = get(("members", "retention", month["month"], "active"))
        retained = get(("members", "retention", month["month"], "retained"))
        rate = round(retained / active, 4) if active and retained is not None else None
        by_month.append({"month": month["month"], "active": active, "retained": retained, "rate": rate})
        if active is None or retained is None:
            complete = False
        else:
            pooled_active += active
            pooled_retained += retained
    rate = round(pooled_retained / pooled_active, 4) if pooled_active and complete else None
    return {"rate": rate, "by_month": by_month}


def _series_cells(rows: list[dict], by: str | None, cell, margins: list[Margin], prefix: tuple) -> None:
    if by == "mode":
        return  # the same cells as journeys.by_mode
    for row in rows:
        for family in ("journeys", "volunteering", "active", "redemptions", "registered"):
            if family not in row:
                continue
            f = row[family]
            shown = {name: (_round(f[name], 3) if name in ("km", "co2e_avoided_kg") else
                            _round(f[name], 2) if name == "hours" else f[name]) for name in f}
            cell((*prefix, row["key"], family), f["members"], **shown)
    if by in ("week", "month"):
        keys = [row["key"] for row in rows]
        for family in ("journeys", "volunteering", "redemptions"):
            margins.append(Margin((family,), tuple((*prefix, key, family) for key in keys)))


def _row(row: dict, by: str, values, prefix: tuple) -> dict:
    if by == "mode":
        return {"key": row["key"], "journeys": values(("journeys", "by_mode", row["key"]))}
    out = {"key": row["key"]}
    if by == "area":
        out.update({k: row[k] for k in ("ward", "local_authority", "imd_decile")})
        out["registered"] = values((*prefix, row["key"], "registered"))
    for family in ("journeys", "volunteering", "active", "redemptions"):
        if family in row:
            out[family] = values((*prefix, row["key"], family))
    return out


def parse_day(text: str) -> date:
    return date.fromisoformat(text)
