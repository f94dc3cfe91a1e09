"""Challenge rules: what matches, how counts and streaks add up, and Leeds week and month boundaries."""
from datetime import UTC, date, datetime, timedelta

import pytest

from points import challenges
from points.models import Challenge
from rewards_shared.errors import Invalid


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def streak(periods=4, period="week", min_per_period=1) -> Challenge:
    return Challenge(kind="streak", period=period, periods=periods, min_per_period=min_per_period)


def journey(mode="bus", **extra) -> dict:
    return challenges.journey({"journey_id": "j1", "member_id": "m", "mode": mode, "operator_id": "leeds-bus",
                               "kind": "paired", "started_at": at("2026-11-02T08:00:00+00:00"), **extra}).facts


# --- week boundaries in Europe/London ---------------------------------------------------------------

def test_a_journey_late_on_a_summer_sunday_belongs_to_that_week_although_utc_says_sunday_too():
    # 23:30 in Leeds on Sunday 5 July 2026 is 22:30 UTC: the week that began Monday 29 June.
    assert challenges.period_of(at("2026-07-05T22:30:00+00:00"), "week") == date(2026, 6, 29)


def test_half_past_eleven_utc_on_a_summer_sunday_is_already_monday_in_leeds():
    # 23:30 UTC on Sunday 5 July is 00:30 on Monday 6 July in Leeds: the next week.
    assert challenges.period_of(at("2026-07-05T23:30:00+00:00"), "week") == date(2026, 7, 6)


def test_late_on_a_winter_sunday_leeds_and_utc_agree():
    assert challenges.period_of(at("2026-11-29T23:59:00+00:00"), "week") == date(2026, 11, 23)
    assert challenges.period_of(at("2026-11-30T00:00:00+00:00"), "week") == date(2026, 11, 30)


def test_months_are_leeds_months():
    # 23:30 UTC on 31 May is 00:30 on 1 June in Leeds.
    assert challenges.period_of(at("2026-05-31T23:30:00+00:00"), "month") == date(2026, 6, 1)
    assert challenges.period_of(at("2026-12-31T23:30:00+00:00"), "month") == date(2026, 12, 1)


# --- streaks -----------------------------------------------------------------------------------------

def weekly(*mondays: str, hour: str = "08:00") -> list[datetime]:
    return [at(f"{monday}T{hour}:00+00:00") for monday in mondays]


def test_four_consecutive_weeks_complete_a_four_week_streak():
    weeks = weekly("2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23")
    assert challenges.progress_of(streak(), weeks) == 4


def test_a_missed_week_breaks_the_streak_and_the_longest_run_counts():
    weeks = weekly("2026-11-02", "2026-11-09", "2026-11-23", "2026-11-30", "2026-12-07")
    assert challenges.longest_streak(weeks, period="week", min_per_period=1) == 3


def test_the_sunday_night_journey_keeps_the_streak_across_the_clock_change():
    # Sunday 25 October 2026, 23:30 in Leeds (GMT again, so 23:30 UTC): the week of 19 October;
    # then a journey on each of the next three Mondays.
    occurrences = [at("2026-10-25T23:30:00+00:00"), *weekly("2026-10-26", "2026-11-02", "2026-11-09")]
    assert challenges.longest_streak(occurrences, period="week", min_per_period=1) == 4


def test_the_summer_sunday_night_journey_counts_for_its_own_week_not_the_next():
    # 23:30 Leeds time on Sunday 28 June 2026 (22:30 UTC) is the week of 22 June; with Monday 29 June
    # and Monday 6 July that is three weeks running, where a UTC reading of weeks would give the same
    # weeks only by luck; a journey at 00:30 Leeds on Monday (23:30 UTC Sunday) belongs to Monday's week.
    sunday_night = at("2026-06-28T22:30:00+00:00")
    monday_small_hours = at("2026-07-05T23:30:00+00:00")  # Monday 6 July, 00:30 in Leeds
    occurrences = [sunday_night, at("2026-06-29T08:00:00+00:00"), monday_small_hours]
    assert challenges.longest_streak(occurrences, period="week", min_per_period=1) == 3


def test_a_period_needs_its_minimum():
    occurrences = weekly("2026-11-02", "2026-11-03", "2026-11-09", "2026-11-16", "2026-11-17")
    assert challenges.longest_streak(occurrences, period="week", min_per_period=2) == 1
    assert challenges.longest_streak(occurrences, period="week", min_per_period=1) == 3


def test_monthly_streaks_run_across_the_new_year():
    occurrences = [at("2026-11-15T10:00:00+00:00"), at("2026-12-01T10:00:00+00:00"), at("2027-01-31T10:00:00+00:00")]
    assert challenges.longest_streak(occurrences, period="month", min_per_period=1) == 3


def test_progress_never_passes_the_goal():
    assert challenges.progress_of(Challenge(kind="count", target=3), weekly("2026-11-02") * 5) == 3
    assert challenges.progress_of(streak(periods=2), weekly("2026-11-02", "2026-11-09", "2026-11-16")) == 2


# --- filters -----------------------------------------------------------------------------------------

def test_filters_match_mode_sustainability_and_operator():
    assert challenges.matches({"mode": "bus"}, journey("bus"))
    assert not challenges.matches({"mode": "bus"}, journey("rail"))
    assert challenges.matches({"mode": ["bus", "tram"]}, journey("tram"))
    assert challenges.matches({"sustainable": True}, journey("rail"))
    assert not challenges.matches({"sustainable": True}, journey("other"))
    assert challenges.matches({"operator_id": "leeds-bus", "mode": "bus"}, journey("bus"))
    assert not challenges.matches({"operator_id": "first-leeds"}, journey("bus"))
    assert challenges.matches({}, journey("other"))


def test_attendance_filters_on_minutes_and_organiser():
    facts = challenges.attendance({"attendance_id": "a", "member_id": "m", "organiser_id": "o1",
                                   "opportunity_id": "p", "checked_in_at": at("2026-11-02T08:00:00+00:00"),
                                   "minutes": 45}).facts
    assert challenges.matches({"organiser_id": "o1", "min_minutes": 30}, facts)
    assert not challenges.matches({"min_minutes": 60}, facts)


def test_a_providers_activity_filters_on_kind_provider_and_the_citys_priority():
    facts = challenges.provider_activity({"provider_id": "leeds-leisure", "activity_id": "b-1", "member_id": "m",
                                          "kind": "leisure.visit", "priorities": ["health"],
                                          "occurred_at": at("2026-11-02T08:00:00+00:00")}).facts
    assert challenges.matches({"priority": "health", "provider_id": "leeds-leisure"}, facts)
    assert challenges.matches({"kind": "leisure.visit"}, facts)
    assert not challenges.matches({"priority": "climate"}, facts)
    assert not challenges.matches({"kind": "cycle.trip"}, facts)


def test_activities_are_keyed_by_what_happened_not_by_revision():
    first = challenges.journey({"journey_id": "j9", "member_id": "m", "mode": "bus",
                                "started_at": at("2026-11-02T08:00:00+00:00"), "revision": 1})
    second = challenges.journey({"journey_id": "j9", "member_id": "m", "mode": "bus",
                                 "started_at": at("2026-11-02T08:00:00+00:00"), "revision": 2})
    assert first.activity_id == second.activity_id == "journey:j9"
    visit = challenges.provider_activity({"provider_id": "p", "activity_id": "a1", "member_id": "m", "kind":
                                          "library.visit", "occurred_at": at("2026-11-02T08:00:00+00:00")})
    assert visit.activity_id == "activity:p:a1", "as the ledger keys it, so a void withdraws it"


@pytest.mark.parametrize("activity, wanted, field", [
    ("transit.journey", {"colour": "red"}, "filter.colour"),
    ("transit.journey", {"mode": "hovercraft"}, "filter.mode"),
    ("transit.journey", {"mode": []}, "filter.mode"),
    ("transit.journey", {"sustainable": "yes"}, "filter.sustainable"),
    ("transit.journey", {"kind": "teleport"}, "filter.kind"),
    ("volunteering.attendance", {"min_minutes": "30"}, "filter.min_minutes"),
    ("volunteering.attendance", {"mode": "bus"}, "filter.mode"),
    ("provider.activity", {"kind": "paired"}, "filter.kind"),
    ("provider.activity", {"priority": "parking"}, "filter.priority"),
    ("provider.activity", {"mode": "bus"}, "filter.mode"),
])
def test_a_filter_that_cannot_match_is_refused_naming_its_key(activity, wanted, field):
    with pytest.raises(Invalid) as refused:
        challenges.check_filter(activity, wanted)
    assert field in refused.value.errors


def test_week_periods_are_seven_days_apart_even_across_the_clock_change():
    start = challenges.period_of(at("2026-10-21T12:00:00+00:00"), "week")
    assert challenges.period_of(at("2026-10-28T12:00:00+00:00"), "week") == start + timedelta(days=7)
