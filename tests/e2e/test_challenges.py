"""Challenges and streaks through the running stack: taps, confirmed attendances and providers' activities
count, the bonus is credited once through the ledger, and the member's inbox and challenges page say so."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.api import ServiceClient
from tests.support.polling import wait_for
from tests.support.scheme import Scheme, Tenants, new_id, now

SERVICES = ["points", "transit-ingest", "notifications"]


@pytest.fixture
def scheme(client, stack_env) -> Scheme:
    return Scheme(client, Path(stack_env["VOLUNTEERING_CODE_KEY_FILE"]).read_text())


@pytest.fixture
def admin(client) -> ServiceClient:
    return client("points", "admin")


@pytest.fixture
def operator_id(client) -> str:
    operator_id = new_id("bus")
    created = client("transit-ingest", "admin").post("/v1/operators", json={
        "operator_id": operator_id, "name": "Challenge buses", "default_mode": "bus"})
    assert created.status_code == 201, created.text
    return operator_id


def challenge(admin: ServiceClient, **definition) -> dict:
    body = {"challenge_id": new_id("ch"), "title": "Two bus journeys", "kind": "count",
            "activity": "transit.journey", "target": 2, "starts_at": (now() - timedelta(days=10)).isoformat(),
            "ends_at": (now() + timedelta(days=10)).isoformat(), "bonus_points": 100, **definition}
    created = admin.post("/v1/challenges", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def standing(client, member_id: str, challenge_id: str) -> dict | None:
    page = client("points").get(f"/v1/members/{member_id}/challenges", params={"limit": 200})
    assert page.status_code == 200, page.text
    return next((c for c in page.json()["items"] if c["challenge_id"] == challenge_id), None)


def bonuses(client, member_id: str, challenge_id: str) -> list[dict]:
    items = client("points").get(f"/v1/members/{member_id}/transactions", params={"limit": 200}).json()["items"]
    return [t for t in items if t["source_type"] == "challenge" and t["source_id"] == challenge_id]


def inbox(client, member_id: str) -> list[dict]:
    return client("notifications").get(f"/v1/members/{member_id}/notifications", params={"limit": 200}).json()["items"]


def test_a_count_challenge_credits_its_bonus_once_and_tells_the_member(client, scheme, admin, operator_id):
    defined = challenge(admin, title="Two bus journeys this fortnight",
                        filter={"mode": "bus", "operator_id": operator_id})
    assert defined["goal"] == 2 and defined["active"] is True
    member = scheme.register(points=0)
    card = scheme.link(member.member_id, operator_id)
    assert standing(client, member.member_id, defined["challenge_id"])["progress"] == 0

    scheme.taps(operator_id, card, at=now() - timedelta(hours=5))
    reached = wait_for(lambda: (s := standing(client, member.member_id, defined["challenge_id"]))["progress"] == 1
                       and s, timeout=30, what="progress after one journey")
    assert reached["completed"] is False and reached["completed_at"] is None
    wait_for(lambda: any(n["type"] == "challenge.progressed" for n in inbox(client, member.member_id)),
             timeout=30, what="the progress in the inbox")

    scheme.taps(operator_id, card, at=now() - timedelta(hours=3))
    done = wait_for(lambda: (s := standing(client, member.member_id, defined["challenge_id"]))["completed"] and s,
                    timeout=30, what="the challenge completed")
    assert done["progress"] == 2
    paid = wait_for(lambda: bonuses(client, member.member_id, defined["challenge_id"]), timeout=30, what="the bonus")
    assert [t["points"] for t in paid] == [100]
    completed = wait_for(lambda: [n for n in inbox(client, member.member_id) if n["type"] == "challenge.completed"],
                         timeout=30, what="the completion in the inbox")
    assert "Two bus journeys this fortnight" in completed[0]["title"] and "100 points" in completed[0]["body"]

    # A third journey changes nothing: the bonus is paid at most once.
    journeys_before = len([t for t in client("points").get(f"/v1/members/{member.member_id}/transactions").json()[
        "items"] if t["source_type"] == "journey"])
    scheme.taps(operator_id, card, at=now() - timedelta(hours=1))
    wait_for(lambda: len([t for t in client("points").get(f"/v1/members/{member.member_id}/transactions").json()[
        "items"] if t["source_type"] == "journey"]) > journeys_before, timeout=30, what="the third journey credited")
    assert [t["points"] for t in bonuses(client, member.member_id, defined["challenge_id"])] == [100]
    assert len([n for n in inbox(client, member.member_id) if n["type"] == "challenge.completed"]) == 1
    assert standing(client, member.member_id, defined["challenge_id"])["progress"] == 2


def test_journeys_outside_the_filter_or_the_window_do_not_count(client, scheme, admin, operator_id):
    rail_only = challenge(admin, filter={"mode": "rail", "operator_id": operator_id})
    later = challenge(admin, filter={"operator_id": operator_id}, target=1,
                      starts_at=(now() + timedelta(days=1)).isoformat(),
                      ends_at=(now() + timedelta(days=5)).isoformat())
    counted = challenge(admin, filter={"operator_id": operator_id}, target=5)
    member = scheme.register(points=0)
    card = scheme.link(member.member_id, operator_id)
    scheme.taps(operator_id, card, at=now() - timedelta(hours=2))
    wait_for(lambda: standing(client, member.member_id, counted["challenge_id"])["progress"] == 1, timeout=30,
             what="the unfiltered challenge counting the bus journey")
    assert standing(client, member.member_id, rail_only["challenge_id"])["progress"] == 0
    assert standing(client, member.member_id, later["challenge_id"]) is None  # not live yet: not shown


def test_a_weekly_streak_completes_over_two_leeds_weeks(client, scheme, admin, operator_id):
    defined = challenge(admin, title="A green journey a week, two weeks running", kind="streak", target=None,
                        period="week", periods=2, min_per_period=1,
                        filter={"sustainable": True, "operator_id": operator_id}, bonus_points=40)
    member = scheme.register(points=0)
    card = scheme.link(member.member_id, operator_id)
    # Seven days apart are always in neighbouring weeks; the card was linked after the first, which is
    # still credited (within the 14 days a new link reaches back).
    scheme.taps(operator_id, card, at=now() - timedelta(days=7, hours=1))
    wait_for(lambda: standing(client, member.member_id, defined["challenge_id"])["progress"] == 1, timeout=30,
             what="the first week of the streak")
    scheme.taps(operator_id, card, at=now() - timedelta(hours=1))
    done = wait_for(lambda: (s := standing(client, member.member_id, defined["challenge_id"]))["completed"] and s,
                    timeout=30, what="the streak completed")
    assert done["progress"] == 2 and done["goal"] == 2
    assert [t["points"] for t in wait_for(lambda: bonuses(client, member.member_id, defined["challenge_id"]),
                                          timeout=30, what="the streak's bonus")] == [40]


def test_volunteering_counts_when_the_organiser_confirms(client, scheme, admin):
    organiser_id = new_id("org")
    opportunity_id = scheme.opportunity(organiser_id)
    defined = challenge(admin, title="Volunteer this quarter", activity="volunteering.attendance", target=1,
                        filter={"organiser_id": organiser_id, "min_minutes": 30}, bonus_points=75)
    member = scheme.register(points=0)
    tenants = Tenants(operator_id="", partner_id="", reward_id="", organiser_id=organiser_id,
                      opportunity_id=opportunity_id)
    attendance_id = scheme.attendance(member.member_id, tenants)
    assert standing(client, member.member_id, defined["challenge_id"])["progress"] == 0  # awaiting confirmation
    confirmed = client("points", f"organiser:{organiser_id}").post(f"/v1/attendances/{attendance_id}/confirm",
                                                                     json={})
    assert confirmed.status_code == 200, confirmed.text
    wait_for(lambda: standing(client, member.member_id, defined["challenge_id"])["completed"], timeout=30,
             what="the volunteering challenge completed")
    assert [t["points"] for t in wait_for(lambda: bonuses(client, member.member_id, defined["challenge_id"]),
                                          timeout=30, what="the bonus")] == [75]


def test_a_providers_batch_completes_a_health_challenge_once(client, scheme, admin):
    provider_id = new_id("leisure")
    assert admin.post("/v1/providers", json={"provider_id": provider_id, "name": "Challenge leisure centre",
                                             "kinds": ["leisure.visit", "library.visit"]}).status_code == 201
    defined = challenge(admin, title="Three health visits", activity="provider.activity", target=3,
                        filter={"priority": "health", "provider_id": provider_id}, bonus_points=60)
    member = scheme.register(points=0)
    visits = [{"activity_id": f"v{n}", "member_id": member.member_id, "kind": kind,
               "occurred_at": (now() - timedelta(days=n, hours=1)).isoformat()}
              for n, kind in ((1, "leisure.visit"), (2, "leisure.visit"), (3, "library.visit"), (4, "leisure.visit"))]
    provider = client("points", f"provider:{provider_id}")
    taken = provider.post(f"/v1/providers/{provider_id}/activities", json={"activities": visits[:3]})
    assert taken.status_code == 202 and taken.json()["accepted"] == 3, taken.text
    wait_for(lambda: len(earned(client, member.member_id)) == 3, timeout=30, what="three visits credited")
    halfway = standing(client, member.member_id, defined["challenge_id"])
    assert (halfway["progress"], halfway["completed"]) == (2, False), "a library visit is wellbeing, not health"
    assert provider.post(f"/v1/providers/{provider_id}/activities", json={"activities": visits}).json() == {
        **taken.json(), "accepted": 1, "duplicates": 3}
    done = wait_for(lambda: (s := standing(client, member.member_id, defined["challenge_id"]))["completed"] and s,
                    timeout=30, what="the health challenge completed")
    assert done["progress"] == 3
    assert [t["points"] for t in wait_for(lambda: bonuses(client, member.member_id, defined["challenge_id"]),
                                          timeout=30, what="the bonus")] == [60]


def earned(client, member_id: str) -> list[dict]:
    items = client("points").get(f"/v1/members/{member_id}/transactions", params={"limit": 200}).json()["items"]
    return [t for t in items if t["source_type"] == "activity"]


def test_a_member_credential_sees_only_its_own_challenges(client, scheme, admin, services):
    challenge(admin, filter={"operator_id": new_id("nobody")})
    mine, theirs = scheme.register(points=0), scheme.register(points=0)
    phone = ServiceClient(services["points"], scheme.member_token(mine.member_id))
    own = phone.get(f"/v1/members/{mine.member_id}/challenges")
    assert own.status_code == 200 and own.json()["items"], own.text
    assert phone.get(f"/v1/members/{theirs.member_id}/challenges").status_code == 404
    assert client("points").get(f"/v1/members/{new_id('m')}/challenges").status_code == 404


def test_admin_defines_lists_changes_and_withdraws_challenges(client, scheme, admin):
    defined = challenge(admin, filter={"operator_id": new_id("nobody")})
    member = scheme.register(points=0)
    assert admin.post("/v1/challenges", json={**{k: defined[k] for k in (
        "challenge_id", "title", "kind", "activity", "target", "filter", "bonus_points")},
        "starts_at": defined["starts_at"], "ends_at": defined["ends_at"]}).status_code == 409
    assert admin.get(f"/v1/challenges/{defined['challenge_id']}").json()["title"] == defined["title"]
    assert defined["challenge_id"] in listed_ids(admin, active="true")

    changed = admin.request("PATCH", f"/v1/challenges/{defined['challenge_id']}",
                            json={"title": "Renamed", "active": False})
    assert changed.status_code == 200 and changed.json()["title"] == "Renamed" and changed.json()["active"] is False
    assert standing(client, member.member_id, defined["challenge_id"]) is None
    assert defined["challenge_id"] not in listed_ids(admin, active="true")
    assert defined["challenge_id"] in listed_ids(admin, active="false")
    assert admin.get("/v1/challenges/no-such-challenge").status_code == 404
    assert client("points").post("/v1/challenges", json={}).status_code == 403


def listed_ids(admin: ServiceClient, **query) -> set[str]:
    found, cursor = set(), None
    while True:
        page = admin.get("/v1/challenges", params={**query, "limit": 200, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        found |= {c["challenge_id"] for c in page.json()["items"]}
        if not (cursor := page.json()["next_cursor"]):
            return found


@pytest.mark.parametrize("change, field", [
    ({"filter": {"colour": "red"}}, "filter.colour"),
    ({"filter": {"mode": "hovercraft"}}, "filter.mode"),
    ({"target": None}, "target"),
    ({"period": "week"}, "period"),
    ({"kind": "streak", "target": None, "periods": 4}, "period"),
    ({"ends_at": (now() - timedelta(days=20)).isoformat()}, "ends_at"),
    ({"activity": "shopping"}, "activity"),
    ({"activity": "provider.activity", "filter": {"priority": "parking"}}, "filter.priority"),
    ({"bonus_points": -5}, "bonus_points"),
])
def test_a_bad_challenge_is_refused_naming_the_field(admin, change, field):
    body = {"challenge_id": new_id("ch"), "title": "Bad", "kind": "count", "activity": "transit.journey",
            "target": 2, "starts_at": (now() - timedelta(days=1)).isoformat(),
            "ends_at": (now() + timedelta(days=1)).isoformat(), "bonus_points": 10, **change}
    refused = admin.post("/v1/challenges", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert field in refused.json()["errors"], refused.json()
    assert admin.get(f"/v1/challenges/{body['challenge_id']}").status_code == 404
