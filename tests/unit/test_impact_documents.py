"""The report's CSV and HTML forms, from a report document: suppressed cells stay visibly suppressed."""
from datetime import UTC, datetime

from impact.report import html
from impact.report.table import to_csv

REPORT = {
    "from": "2026-11-01", "to": "2026-11-30",
    "method": {"co2e": "km × (car − mode)", "factor_set": "DESNZ 2025", "factor_sets": ["2025"], "min_cell": 10,
               "peak": "weekdays", "active": "earned", "consent": "consent", "cost": "owed", "suppression": "k"},
    "members": {"registered": 120, "registered_in_period": 20, "active": 80,
                "retention": {"rate": None, "by_month": []}},
    "journeys": {"count": 400, "km": 1234.5, "km_unknown": 2, "members": 70,
                 "by_mode": {"bus": {"count": None, "km": None, "co2e_avoided_kg": None, "members": None},
                             "rail": {"count": 390, "km": 1200.0, "co2e_avoided_kg": 50.5, "members": 65}},
                 "peak": {"count": 200, "km": 600.0, "members": 40},
                 "off_peak": {"count": 200, "km": 634.5, "members": 45}},
    "co2e_avoided_kg": 52.25, "volunteering": {"attendances": 30, "hours": 61.5, "members": 12},
    "activities": {"count": 75, "members": 40,
                   "by_priority": {"health": {"count": 50, "members": 30}, "transport": {"count": 25, "members": 12},
                                   "climate": {"count": None, "members": None},
                                   "housing": {"count": 0, "members": 0}, "wellbeing": {"count": 0, "members": 0}},
                   "by_kind": {"cycle.trip": {"count": 25, "quantity": 80.5, "members": 12, "unit": "km"},
                               "leisure.visit": {"count": 50, "quantity": 50.0, "members": 30, "unit": "visit"}}},
    "points": {"issued": 5000, "redeemed": 1200, "expired": 0, "donated": None, "reversed": 0, "adjusted": 0,
               "withdrawn": 0, "outstanding": 3800},
    "redemptions": {"count": 40, "members": 30,
                    "by_partner": {"=cafe": {"count": 40, "members": 30, "owed_gbp": 60.0}}},
    "cost": {"owed_to_partners_gbp": 60.0, "per_active_member_gbp": 0.75, "per_tonne_co2e_gbp": 1148.33},
    "groups": [{"group_id": "food-bank", "donated": None, "donors": None}],
    "suppressed": [{"cell": "journeys.by_mode.bus", "reason": "fewer than 10 members"},
                   {"cell": "groups.food-bank", "reason": "fewer than 10 members"}],
    "breakdown": {"by": "week", "rows": [
        {"key": "2026-W45", "journeys": {"journeys": 180, "km": 500.0, "co2e_avoided_kg": 20.0, "members": 40},
         "volunteering": {"attendances": 10, "hours": 20.0, "members": 10}, "active": {"members": 44,
                                                                                       "points_issued": 2000}},
        {"key": "2026-W46", "journeys": {"journeys": None, "km": None, "co2e_avoided_kg": None, "members": None},
         "volunteering": {"attendances": 20, "hours": 41.5, "members": 11}, "active": {"members": 50,
                                                                                       "points_issued": 3000}}]},
}


def test_csv_has_one_row_per_figure_with_suppressed_ones_empty_and_explained():
    rows = [line.split(",") for line in to_csv(REPORT).splitlines()]
    assert rows[0] == ["cell", "value", "note"]
    by_cell = {row[0]: row for row in rows[1:]}
    assert by_cell["journeys.count"][1] == "400"
    assert by_cell["journeys.by_mode.bus.count"][1:] == ["", "fewer than 10 members"]
    assert by_cell["groups.food-bank.donated"][1:] == ["", "fewer than 10 members"]
    assert by_cell["breakdown.rows.2026-W45.journeys.km"][1] == "500.0"
    assert by_cell["redemptions.by_partner.=cafe.count"][1] == "40"
    assert by_cell["activities.by_priority.health.count"][1] == "50"
    assert by_cell["activities.by_kind.cycle.trip.unit"][1] == "km"


def test_csv_cells_cannot_run_as_spreadsheet_formulas():
    report = {**REPORT, "method": {**REPORT["method"], "co2e": "=HYPERLINK(\"http://x\")"}}
    line = next(line for line in to_csv(report).splitlines() if line.startswith("method.co2e"))
    assert ",'=HYPERLINK" in line.replace('"', "")


def test_the_page_is_self_contained_and_marks_suppressed_cells():
    page = html.render(REPORT, [], generated=datetime(2026, 12, 1, tzinfo=UTC))
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<link" not in page
    assert page.count("<svg") == 6
    assert 'class="bar suppressed"' in page and "suppressed" in page
    assert "DESNZ 2025" in page and "Methods" in page
    activities = page[page.index('<section id="activities">'):]
    activities = activities[:activities.index("</section>")]
    assert "<td>transport</td><td>25</td><td>12</td>" in activities
    assert "<td>climate</td><td><span class=\"suppressed\">suppressed</span>" in activities
    assert "80.5 km" in activities
