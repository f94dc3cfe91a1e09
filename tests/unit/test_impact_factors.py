"""CO2e factor files and the calculation for one journey."""
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from impact import factors
from impact.calendar import PeakHours, iso_week, local_day
from rewards_shared.errors import Invalid

LEEDS = ZoneInfo("Europe/London")


def test_the_shipped_desnz_2025_set_parses_with_the_figures_of_the_reference_file():
    rows = {r["activity"]: r for r in factors.parse(factors.shipped_text())}
    assert rows["average_local_bus"]["kg_co2e_per_unit"] == Decimal("0.10385")
    assert rows["average_car_unknown_fuel"]["kg_co2e_per_unit"] == Decimal("0.16725")
    assert rows["average_car_unknown_fuel"]["unit"] == "vehicle_km"


@pytest.mark.parametrize(("text", "field"), [
    ("mode,unit\nbus,passenger_km\n", "file"),
    ("mode,unit,kg_co2e_per_unit\naverage_local_bus,passenger_km,lots\n", "kg_co2e_per_unit"),
    ("mode,unit,kg_co2e_per_unit\naverage_local_bus,furlongs,0.1\n", "unit"),
    ("mode,unit,kg_co2e_per_unit\naverage_local_bus,passenger_km,-1\n", "kg_co2e_per_unit"),
    ("mode,unit,kg_co2e_per_unit\naverage_local_bus,passenger_km,0.1\n", "mode"),
])
def test_a_bad_factor_file_is_refused_naming_the_field(text, field):
    with pytest.raises(Invalid) as refused:
        factors.parse(text)
    assert field in refused.value.errors


def test_co2e_avoided_counts_only_a_car_baseline():
    calculation = factors.Calculation("2025", Decimal("0.10385"), Decimal("0.16725"))
    assert calculation.avoided_kg(Decimal("10"), "car") == Decimal("0.63400")
    assert calculation.avoided_kg(Decimal("10"), "bus") == 0
    assert calculation.avoided_kg(Decimal("10"), None) == 0
    assert calculation.avoided_kg(None, "car") == 0
    assert factors.Calculation("2025", None, Decimal("0.16725")).avoided_kg(Decimal("10"), "car") == 0


def test_peak_hours_are_weekday_windows_in_leeds_time():
    hours = PeakHours()
    monday_8am_bst = datetime(2026, 6, 1, 7, 30, tzinfo=ZoneInfo("UTC"))  # 08:30 in Leeds
    assert hours.is_peak(monday_8am_bst)
    assert not hours.is_peak(datetime(2026, 6, 6, 8, 30, tzinfo=LEEDS))  # a Saturday
    assert not hours.is_peak(datetime(2026, 6, 1, 9, 30, tzinfo=LEEDS))  # the window's end is off-peak
    assert PeakHours.parse("06:00-10:00").is_peak(datetime(2026, 6, 1, 9, 45, tzinfo=LEEDS))


def test_days_are_leeds_days():
    assert local_day(datetime(2026, 6, 1, 23, 30, tzinfo=ZoneInfo("UTC"))).isoformat() == "2026-06-02"
    assert iso_week(local_day(datetime(2026, 12, 31, 12, 0, tzinfo=LEEDS))) == "2026-W53"
