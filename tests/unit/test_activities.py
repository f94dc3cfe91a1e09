"""The rules of providers' activities and referral, without a database: which rows are valid, what a kind
earns, which rule definitions are accepted, how a referral code is read."""
from datetime import UTC, datetime, timedelta

import pytest

from points import activities, referrals, rules
from points.models import Rule
from rewards_shared.errors import Invalid, TooLarge
from rewards_shared.events.schemas import ACTIVITY_KINDS, PRIORITIES

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def row(**overrides) -> dict:
    return {"activity_id": "a-1", "member_id": "alice", "kind": "cycle.trip",
            "occurred_at": (NOW - timedelta(hours=1)).isoformat(), "quantity": 4.2, "unit": "km", **overrides}


def errors_of(*rows) -> list[tuple[int, str]]:
    return [(e.index, e.field) for e in activities.validate_rows(list(rows), now=NOW)[1]]


def test_every_kind_counts_for_a_priority_of_the_city_in_a_known_unit():
    assert set(ACTIVITY_KINDS) >= {"leisure.visit", "cycle.trip", "recycling.visit", "home.energy_check",
                                   "library.visit"}
    for kind, (priorities, unit) in ACTIVITY_KINDS.items():
        assert priorities and set(priorities) <= set(PRIORITIES), kind
        assert unit in activities.MAX_QUANTITY
    assert activities.priorities("cycle.trip") == ("transport", "climate")
    assert activities.priorities("leisure.visit") == ("health",)


def test_a_valid_row_takes_its_kinds_unit_and_one_visit_by_default():
    visit = {k: v for k, v in row(kind="library.visit").items() if k not in ("quantity", "unit")}
    valid, errors = activities.validate_rows([row(), visit], now=NOW)
    assert errors == []
    assert valid[0][1]["unit"] == "km" and valid[0][1]["quantity"] == 4.2
    assert valid[1][1]["unit"] == "visit" and valid[1][1]["quantity"] == 1.0


@pytest.mark.parametrize(("bad", "field"), [
    ({"member_id": None}, "member_id"),                              # nobody named
    ({"membership_ref": "card-1"}, "member_id"),                     # both named
    ({"kind": "swimming"}, "kind"),
    ({"unit": "miles"}, "unit"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": 501}, "quantity"),
    ({"kind": "leisure.visit", "unit": "visit", "quantity": 2}, "quantity"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"occurred_at": "2026-11-24T10:00:00"}, "occurred_at"),        # no offset
    ({"occurred_at": (NOW + timedelta(hours=1)).isoformat()}, "occurred_at"),
    ({"occurred_at": (NOW - timedelta(days=91)).isoformat()}, "occurred_at"),
    ({"activity_id": ""}, "activity_id"),
    ({"void": "perhaps"}, "void"),
])
def test_a_bad_row_is_reported_by_index_and_field(bad, field):
    assert errors_of(row(), row(**bad)) == [(1, field)]


def test_a_row_that_is_not_an_object_is_reported_as_a_row():
    assert errors_of("nonsense", row()) == [(0, "_row")]


def test_a_batch_too_large_is_refused_whole():
    with pytest.raises(TooLarge):
        activities.check_size([{}] * (activities.MAX_ACTIVITIES_PER_BATCH + 1))


def test_membership_refs_hash_per_provider_and_never_equal_the_reference():
    hasher = activities.MembershipHasher("ab" * 32)
    assert hasher("pool", "card-1") == hasher("pool", "card-1")
    assert hasher("pool", "card-1") != hasher("library", "card-1")
    assert b"card-1" not in hasher("pool", "card-1") and len(hasher("pool", "card-1")) == 32
    with pytest.raises(ValueError):
        activities.MembershipHasher("")


class RulesOnly:
    """A session that holds the rules in force (what `rules.in_force` reads once per transaction)."""

    def __init__(self, *versions: Rule):
        self.info = {"rules": sorted(versions, key=lambda r: (r.rule_id, -r.version))}


def rule(rule_id: str, kind: str, definition: dict, version: int = 1) -> Rule:
    return Rule(rule_id=rule_id, version=version, kind=kind, definition=rules.validate_definition(kind, definition),
                effective_from=datetime(2020, 1, 1, tzinfo=UTC), effective_to=None)


BY_KIND = rule("activity-by-kind", "activity", {"kinds": {
    "leisure.visit": {"points": 20}, "cycle.trip": {"points": 2, "per": "unit", "max_units": 20}}})


def activity(kind: str, quantity: float) -> dict:
    return {"kind": kind, "quantity": quantity, "occurred_at": NOW}


def test_a_kind_earns_per_activity_or_per_unit_up_to_its_maximum():
    session = RulesOnly(BY_KIND)
    assert rules.award_for_activity(session, "alice", activity("leisure.visit", 1)).points == 20
    assert rules.award_for_activity(session, "alice", activity("cycle.trip", 7.4)).points == 15
    capped = rules.award_for_activity(session, "alice", activity("cycle.trip", 55))
    assert capped.points == 40 and capped.breakdown[0]["units"] == 20
    assert rules.award_for_activity(session, "alice", activity("library.visit", 1)).points == 0


def test_a_campaign_for_one_kind_multiplies_only_that_kind():
    campaign = rule("active-november", "campaign", {
        "multiplier": 2, "activity": "activity", "kind": "leisure.visit",
        "starts_at": "2026-11-01T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z"})
    session = RulesOnly(BY_KIND, campaign)
    doubled = rules.award_for_activity(session, "alice", activity("leisure.visit", 1))
    assert doubled.points == 40 and doubled.breakdown[-1]["rule_id"] == "active-november"
    assert rules.award_for_activity(session, "alice", activity("cycle.trip", 5)).points == 10


def test_rule_definitions_for_activities_caps_and_referral_are_checked_field_by_field():
    with pytest.raises(Invalid) as refused:
        rules.validate_definition("activity", {"kinds": {"swimming": {"points": 5}}})
    assert "definition.kinds" in str(refused.value.errors)
    with pytest.raises(Invalid) as refused:
        rules.validate_definition("activity", {"kinds": {"cycle.trip": {"points": 5, "per": "mile"}}})
    assert "definition.kinds.cycle.trip.value.per" in refused.value.errors
    cap = rules.validate_definition("cap", {"activity": "activity", "kind": "leisure.visit", "per_day": 1})
    assert cap["kind"] == "leisure.visit"
    with pytest.raises(Invalid):
        rules.validate_definition("referral", {"referrer_points": 100, "referred_points": 50})
    terms = rules.referral_terms(RulesOnly(rule("referral-bonus", "referral", {
        "referrer_points": 100, "referred_points": 50, "max_per_referrer": 3})), NOW)
    assert (terms.referrer_points, terms.referred_points, terms.max_per_referrer) == (100, 50, 3)
    assert rules.referral_terms(RulesOnly(BY_KIND), NOW) is None


def test_a_referral_code_is_read_as_typed_by_a_person():
    code = referrals.new_code()
    assert len(code) == referrals.CODE_LENGTH and set(code) <= set(referrals.ALPHABET)
    assert referrals.normalise(" 7kqm-2x9d ") == "7KQM2X9D"
    assert referrals.normalise("o1l0-iabc") == "0110" + "1ABC"
