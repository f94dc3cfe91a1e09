"""Check-in codes (RFC 4226/6238 test vectors), the geofence distance and the minutes that count."""
from datetime import UTC, datetime, timedelta

import pytest
import segno

from points import volunteering
from points.models import Opportunity
from rewards_shared import geo

RFC_SECRET = b"12345678901234567890"


@pytest.mark.parametrize("counter, code", list(enumerate(
    ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"])))
def test_hotp_matches_rfc_4226(counter, code):
    assert volunteering.hotp(RFC_SECRET, counter) == code


@pytest.mark.parametrize("seconds, code", [
    (59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"), (1234567890, "89005924"),
    (2000000000, "69279037"), (20000000000, "65353130")])
def test_totp_matches_rfc_6238_sha1_vectors(seconds, code):
    assert volunteering.totp(RFC_SECRET, datetime.fromtimestamp(seconds, UTC), digits=8) == code


def test_a_code_is_accepted_one_step_either_side_and_no_further():
    secret = volunteering.code_secret("k" * 64, "opp-1")
    at = datetime(2030, 6, 1, 10, 0, 10, tzinfo=UTC)
    step = timedelta(seconds=volunteering.STEP_SECONDS)
    for offset, accepted in ((-2, False), (-1, True), (0, True), (1, True), (2, False)):
        code = volunteering.totp(secret, at + offset * step)
        assert volunteering.code_matches(secret, code, at) is accepted, offset
    assert len(volunteering.totp(secret, at)) == 6


def test_each_opportunity_and_key_has_its_own_secret():
    one = volunteering.code_secret("key-a", "opp-1")
    assert one == volunteering.code_secret("key-a\n", "opp-1")
    assert one != volunteering.code_secret("key-a", "opp-2")
    assert one != volunteering.code_secret("key-b", "opp-1")


def test_the_current_code_says_how_long_it_lasts():
    at = datetime(2030, 6, 1, 10, 0, 47, tzinfo=UTC)
    current = volunteering.current_code(b"secret", at)
    assert (current.valid_from, current.valid_until) == (datetime(2030, 6, 1, 10, 0, 30, tzinfo=UTC),
                                                         datetime(2030, 6, 1, 10, 1, 0, tzinfo=UTC))
    assert current.code == volunteering.totp(b"secret", at)
    link = volunteering.check_in_link("opp-1", current.code)
    assert link.endswith(f"opportunity_id=opp-1&code={current.code}")
    assert segno.make(link, error="m").svg_inline().startswith("<svg")


def test_distances_on_the_globe():
    assert geo.distance_m((53.8, -1.55), (53.8, -1.55)) == 0
    assert geo.distance_m((53.0, -1.55), (54.0, -1.55)) == pytest.approx(111_195, abs=1)
    town_hall, station = (53.80007, -1.54908), (53.79490, -1.54763)
    assert geo.distance_m(town_hall, station) == pytest.approx(582, abs=3)
    assert geo.distance_m(town_hall, station) == geo.distance_m(station, town_hall)
    assert geo.distance_m((0, 179.9999), (0, -179.9999)) == pytest.approx(22.2, abs=0.1)


def test_only_minutes_inside_the_opportunity_count():
    opportunity = Opportunity(starts_at=datetime(2030, 6, 1, 10, tzinfo=UTC),
                              ends_at=datetime(2030, 6, 1, 12, tzinfo=UTC))
    early, late = datetime(2030, 6, 1, 9, 50, tzinfo=UTC), datetime(2030, 6, 1, 12, 40, tzinfo=UTC)
    assert volunteering.attended_minutes(opportunity, early, late) == 120
    assert volunteering.attended_minutes(opportunity, datetime(2030, 6, 1, 10, 15, 30, tzinfo=UTC),
                                         datetime(2030, 6, 1, 11, 0, tzinfo=UTC)) == 44
    assert volunteering.attended_minutes(opportunity, early, datetime(2030, 6, 1, 9, 59, tzinfo=UTC)) == 0
