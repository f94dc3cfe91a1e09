"""The report as one self-contained HTML page (inline CSS and SVG, no script, no external asset) that a
council officer reads on screen or prints to PDF."""
from __future__ import annotations

from datetime import datetime
from importlib import resources

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from . import charts

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _fmt(value, unit: str = "") -> Markup | str:
    if value is None:
        return Markup('<span class="suppressed">suppressed</span>')
    if unit == "%":
        return f"{value * 100:.1f}%"
    if unit == "£":
        return f"£{value:,.2f}"
    text = f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"
    return f"{text} {unit}".strip() if unit in ("km", "kg", "h") else text


def _per(cost: float | None, count: int | None) -> float | None:
    return None if cost is None or not count else round(cost / count, 2)


def render(weekly: dict, areas: list[dict], *, generated: datetime) -> str:
    """`weekly` is the report grouped by week; `areas` the rows of the same period grouped by area."""
    rows = weekly.get("breakdown", {}).get("rows", [])
    weeks = [row["key"] for row in rows]
    by_mode = weekly["journeys"]["by_mode"]
    cost = weekly["cost"]
    drawn = {
        "journeys_by_week": charts.bars("Journeys by week", weeks, [r["journeys"]["journeys"] for r in rows],
                                        ident="journeys-by-week"),
        "co2e_by_week": charts.bars("CO2e avoided by week (kg)", weeks,
                                    [r["journeys"]["co2e_avoided_kg"] for r in rows], unit=" kg",
                                    colour=charts.COLOURS[3], ident="co2e-by-week"),
        "mode_split": charts.bars("Journeys by mode", list(by_mode), [f["count"] for f in by_mode.values()],
                                  colour=charts.COLOURS[2], ident="mode-split"),
        "active_by_week": charts.bars("Active members by week", weeks, [r["active"]["members"] for r in rows],
                                      colour=charts.COLOURS[4], ident="active-by-week"),
        "area": charts.bars("Active members by home area", [a["key"] for a in areas],
                            [a["active"]["members"] for a in areas], colour=charts.COLOURS[5], ident="by-area"),
        "cost": charts.bars("Cost per active member by week (£)", weeks,
                            [_per(r.get("redemptions", {}).get("owed_gbp"), r["active"]["members"]) for r in rows],
                            unit=" £", colour=charts.COLOURS[1], ident="cost-per-outcome"),
    }
    headline = [
        ("members registered", weekly["members"]["registered"], ""),
        ("active members", weekly["members"]["active"], ""),
        ("journeys", weekly["journeys"]["count"], ""),
        ("km by sustainable modes", weekly["journeys"]["km"], "km"),
        ("CO2e avoided", weekly["co2e_avoided_kg"], "kg"),
        ("volunteer hours", weekly["volunteering"]["hours"], "h"),
        ("points outstanding", weekly["points"]["outstanding"], ""),
        ("owed to partners", cost["owed_to_partners_gbp"], "£"),
        ("cost per active member", cost["per_active_member_gbp"], "£"),
        ("cost per tonne CO2e avoided", cost["per_tonne_co2e_gbp"], "£"),
    ]
    template = _ENV.from_string(resources.files(__package__).joinpath("page.html").read_text())
    return template.render(r=weekly, areas=areas, headline=headline, fmt=_fmt,
                           charts={k: Markup(v) for k, v in drawn.items()},
                           generated=generated.strftime("%Y-%m-%d %H:%M UTC"))
