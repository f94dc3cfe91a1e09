from datetime import UTC, datetime, timedelta

from transit_ingest.pairing import TapView, distance_km, pair

T0 = datetime(2025, 10, 24, 7, 41, tzinfo=UTC)
TIMEOUT = timedelta(hours=3)


def tap(tap_id, minutes, type="on", outcome="allow", lat=None, lon=None):
    return TapView(tap_id=tap_id, occurred_at=T0 + timedelta(minutes=minutes), type=type, outcome=outcome,
                   mode="bus", latitude=lat, longitude=lon)


def kinds(result):
    return [(j.kind, j.on.tap_id, j.off.tap_id if j.off else None) for j in result.journeys]


def test_tap_on_then_tap_off_is_one_journey_whatever_order_they_arrive_in():
    result = pair([tap("b", 21, "off"), tap("a", 0, "on")], now=T0 + timedelta(hours=1), timeout=TIMEOUT)
    assert kinds(result) == [("paired", "a", "b")]
    assert result.waiting is None


def test_single_is_a_flat_fare_journey():
    assert kinds(pair([tap("s", 0, "single")], now=T0, timeout=TIMEOUT)) == [("single", "s", None)]


def test_denied_taps_never_count():
    result = pair([tap("a", 0, "on", "deny"), tap("b", 20, "off", "deny"), tap("c", 30, "single", "deny")],
                  now=T0 + timedelta(days=1), timeout=TIMEOUT)
    assert result.journeys == [] and result.waiting is None


def test_a_tap_on_waits_for_its_tap_off_until_the_timeout():
    waiting = pair([tap("a", 0, "on")], now=T0 + timedelta(hours=2), timeout=TIMEOUT)
    assert waiting.journeys == [] and waiting.waiting.tap_id == "a"
    expired = pair([tap("a", 0, "on")], now=T0 + timedelta(hours=4), timeout=TIMEOUT)
    assert kinds(expired) == [("incomplete", "a", None)]


def test_a_second_tap_on_closes_the_first_as_incomplete():
    result = pair([tap("a", 0, "on"), tap("b", 60, "on"), tap("c", 80, "off")], now=T0, timeout=TIMEOUT)
    assert kinds(result) == [("incomplete", "a", None), ("paired", "b", "c")]


def test_a_tap_off_too_long_after_the_tap_on_does_not_pair():
    result = pair([tap("a", 0, "on"), tap("b", 5 * 60, "off")], now=T0 + timedelta(hours=6), timeout=TIMEOUT)
    assert kinds(result) == [("incomplete", "a", None)]
    assert [t.tap_id for t in result.unmatched] == ["b"]


def test_distance_from_tap_coordinates():
    headrow = tap("a", 0, lat=53.7997, lon=-1.5492)
    roundhay = tap("b", 21, "off", lat=53.8392, lon=-1.4963)
    assert 5.5 < distance_km(headrow, roundhay) < 5.7
    assert distance_km(headrow, tap("c", 1)) is None


def test_distance_falls_back_to_the_stops_positions():
    from transit_ingest.pairing import estimate_distance

    on, off = tap("a", 0), tap("b", 21, "off")
    on, off = TapView(**{**on.__dict__, "stop_id": "S1001"}), TapView(**{**off.__dict__, "stop_id": "S2040"})
    stops = {"S1001": (53.7997, -1.5492), "S2040": (53.8392, -1.4963)}
    km, source = estimate_distance(on, off, stops)
    assert source == "stops" and 5.5 < km < 5.7
    assert estimate_distance(on, off, {}) == (None, None)
    assert estimate_distance(on, None, stops) == (None, None)
    with_positions = tap("c", 0, lat=53.7997, lon=-1.5492), tap("d", 21, "off", lat=53.8392, lon=-1.4963)
    assert estimate_distance(*with_positions, stops)[1] == "taps"


def test_a_journey_belongs_to_whoever_had_the_card_linked_then_or_linked_it_within_the_window():
    from types import SimpleNamespace

    from transit_ingest.journeys import member_at

    def link(member, linked_days, unlinked_days=None):
        return SimpleNamespace(member_id=member, linked_at=T0 + timedelta(days=linked_days),
                               unlinked_at=T0 + timedelta(days=unlinked_days) if unlinked_days else None)

    window = timedelta(days=14)
    links = [link("bea", 30), link("al", 0, 20)]
    assert member_at(links, T0 - timedelta(days=13), window) == "al"
    assert member_at(links, T0 - timedelta(days=15), window) is None
    assert member_at(links, T0 + timedelta(days=10), window) == "al"
    assert member_at(links, T0 + timedelta(days=21), window) == "bea"
    assert member_at(links, T0 + timedelta(days=31), window) == "bea"
