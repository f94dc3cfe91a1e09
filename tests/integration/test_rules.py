"""Earning rules as data, evaluated against real PostgreSQL with the seeded default scheme."""
import uuid
from datetime import UTC, datetime

import pytest

from points import earnings, ledger, rules
from points.models import Earning, Transfer
from rewards_shared.errors import Invalid


@pytest.fixture
def points_db(databases):
    return databases("points")


def award(session, member_id, started_at, mode="bus", stops=()):
    journey = {"mode": mode, "started_at": datetime.fromisoformat(started_at),
               "origin_stop_id": stops[0] if stops else None, "destination_stop_id": stops[1] if stops else None}
    return rules.award_for_journey(session, member_id, journey)


@pytest.mark.parametrize(("when", "mode", "points"), [
    ("2026-11-18T08:00:00+00:00", "bus", 10),     # Wednesday peak
    ("2026-11-18T11:00:00+00:00", "bus", 15),     # Wednesday off-peak: +5
    ("2026-11-21T08:00:00+00:00", "tram", 15),    # Saturday: no peak
    ("2026-07-15T06:45:00+00:00", "rail", 15),    # 07:45 British Summer Time is peak
    ("2026-11-18T11:00:00+00:00", "rail", 20),
])
def test_the_default_scheme(points_db, member_id, when, mode, points):
    with points_db.transaction() as session:
        assert award(session, member_id, when, mode).points == points


def test_a_campaign_multiplies_within_its_window_mode_and_area(points_db, member_id):
    rule_id = f"campaign-{uuid.uuid4().hex[:8]}"
    with points_db.transaction() as session:
        rules.add_version(session, rule_id=rule_id, kind="campaign", effective_from=datetime(2021, 1, 1, tzinfo=UTC),
                          effective_to=None, actor="test", definition={
                              "multiplier": 2, "starts_at": "2021-03-01T00:00:00Z", "ends_at": "2021-03-08T00:00:00Z",
                              "mode": "bus", "area": {"stop_ids": [f"{rule_id}-stop"]}})
    with points_db.transaction() as session:
        inside = award(session, member_id, "2021-03-03T11:00:00+00:00", stops=(f"{rule_id}-stop", "x"))
        assert inside.points == 30
        assert {"rule_id": rule_id, "version": 1, "multiplier": 2.0} in inside.breakdown
        assert award(session, member_id, "2021-03-03T11:00:00+00:00", stops=("elsewhere", "x")).points == 15
        assert award(session, member_id, "2021-03-03T11:00:00+00:00", "rail", (f"{rule_id}-stop", "x")).points == 20
        assert award(session, member_id, "2021-03-09T11:00:00+00:00", stops=(f"{rule_id}-stop", "x")).points == 15


def test_at_most_four_rewarded_journeys_a_day(points_db, member_id):
    with points_db.transaction() as session:
        for hour in range(10, 16):
            earnings.credit_journey(session, {"member_id": member_id, "journey_id": f"{member_id}-{hour}",
                                              "revision": 1, "mode": "bus",
                                              "started_at": datetime(2026, 11, 18, hour, tzinfo=UTC)})
        earnings.credit_journey(session, {"member_id": member_id, "journey_id": f"{member_id}-next", "revision": 1,
                                          "mode": "bus", "started_at": datetime(2026, 11, 19, 12, tzinfo=UTC)})
        statuses = [e.status for e in session.query(Earning).filter_by(member_id=member_id)
                    .order_by(Earning.occurred_at)]
        assert statuses == ["credited"] * 4 + ["capped"] * 2 + ["credited"]
        assert ledger.balance(session, member_id).available == 75


def test_every_credit_records_the_rule_versions_that_made_it(points_db, member_id):
    with points_db.transaction() as session:
        earnings.credit_journey(session, {"member_id": member_id, "journey_id": f"{member_id}-j", "revision": 1,
                                          "mode": "bus", "started_at": datetime(2026, 11, 18, 11, tzinfo=UTC)})
        transfer = session.query(Transfer).filter_by(member_id=member_id, code="earn").one()
        assert (transfer.rule_id, transfer.rule_version) == ("journey-by-mode", 1)
        assert transfer.details["breakdown"] == [
            {"rule_id": "journey-by-mode", "version": 1, "points": 10},
            {"rule_id": "off-peak-bonus", "version": 1, "points": 5}]


def test_versions_are_effective_dated(points_db, member_id):
    with points_db.transaction() as session:
        future = rules.add_version(session, rule_id="journey-by-mode", kind="journey", actor="test",
                                   effective_from=datetime(2100, 1, 1, tzinfo=UTC), effective_to=None,
                                   definition={"points_by_mode": {"bus": 99}})
        assert future.version >= 2
    with points_db.transaction() as session:
        assert award(session, member_id, "2026-11-18T08:00:00+00:00").rule_version == 1
        later = award(session, member_id, "2100-06-02T12:00:00+00:00")
        assert (later.points, later.rule_version) == (99 + 5, future.version)


@pytest.mark.parametrize(("kind", "definition", "fields"), [
    ("journey", {"points_by_mode": {"rocket": 5}}, {"definition.points_by_mode"}),
    ("journey", {}, {"definition.points_by_mode"}),
    ("off_peak", {"bonus": -1, "peak": [{"days": ["someday"], "start": "25:00", "end": "09:00"}]},
     {"definition.bonus", "definition.peak"}),
    ("cap", {"activity": "journey"}, {"definition.per_day"}),
    ("campaign", {"multiplier": 0, "starts_at": "2021-01-02T00:00:00Z", "ends_at": "2021-01-01T00:00:00Z"},
     {"definition.multiplier"}),
    ("volunteering", {"points_per_hour": 50, "surprise": True}, {"definition.surprise"}),
])
def test_bad_rules_are_refused_by_field_and_nothing_is_saved(points_db, kind, definition, fields):
    rule_id = f"bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(Invalid) as refused, points_db.transaction() as session:
        rules.add_version(session, rule_id=rule_id, kind=kind, definition=definition, actor="test",
                          effective_from=datetime(2021, 1, 1, tzinfo=UTC), effective_to=None)
    assert fields <= {name.split(".")[0] + "." + name.split(".")[1] for name in refused.value.errors}
    with points_db.transaction() as session:
        assert session.get(rules.Rule, (rule_id, 1)) is None


def test_a_rule_keeps_its_kind(points_db):
    with pytest.raises(Invalid) as refused, points_db.transaction() as session:
        rules.add_version(session, rule_id="journey-by-mode", kind="cap", definition={"activity": "journey",
                          "per_day": 1}, actor="test", effective_from=datetime(2021, 1, 1, tzinfo=UTC),
                          effective_to=None)
    assert "kind" in refused.value.errors
