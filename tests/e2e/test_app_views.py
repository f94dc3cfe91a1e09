"""What the app shows, through the running stack: the member's page, their journeys and cards, opportunities
near a point, community groups with their totals, the catalogue by category and search, partners' locations.
Each list is paginated and a member-bound credential reaches only its own member."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.api import ServiceClient
from tests.support.polling import wait_for
from tests.support.scheme import Scheme, new_id, now

SERVICES = ["points", "transit-ingest", "redemption"]


@pytest.fixture
def scheme(client, stack_env) -> Scheme:
    return Scheme(client, Path(stack_env["VOLUNTEERING_CODE_KEY_FILE"]).read_text())


def every_page(http: ServiceClient, path: str, **query) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        page = http.get(path, params={**query, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        pages.append(page.json()["items"])
        if not (cursor := page.json()["next_cursor"]):
            return pages


def test_the_members_page_shows_tier_points_and_the_way_to_the_next_tier(client, scheme, services):
    member, other = scheme.register(points=120), scheme.register(points=0)
    client("points").put(f"/v1/members/{member.member_id}/profile", json={"home_area": "LS6", "research_consent": True})
    page = client("points").get(f"/v1/members/{member.member_id}")
    assert page.status_code == 200, page.text
    shown = page.json()
    # An adjustment is spendable but not earned: tiers follow what was earned.
    assert (shown["member_id"], shown["tier"], shown["available"], shown["lifetime_earned"]) == (
        member.member_id, "bronze", 120, 0)
    assert (shown["next_tier"], shown["points_to_next_tier"]) == ("silver", 500)
    assert shown["profile"] == {"home_area": "LS6", "usual_mode": None, "research_consent": True}

    phone = ServiceClient(services["points"], scheme.member_token(member.member_id))
    assert phone.get(f"/v1/members/{member.member_id}").json()["points_to_next_tier"] == 500
    assert phone.get(f"/v1/members/{other.member_id}").status_code == 404
    assert client("points").get(f"/v1/members/{new_id('m')}").status_code == 404


def test_journeys_and_cards_of_a_member_never_show_a_card(client, scheme, services):
    operator_id = new_id("bus")
    assert client("transit-ingest", "admin").post("/v1/operators", json={
        "operator_id": operator_id, "name": "App buses"}).status_code == 201
    member, other = scheme.register(points=0), scheme.register(points=0)
    first = scheme.link(member.member_id, operator_id)
    second = scheme.link(member.member_id, operator_id)
    for hours in (5, 3, 1):
        scheme.taps(operator_id, first, at=now() - timedelta(hours=hours))
    transit = client("transit-ingest")
    path = f"/v1/members/{member.member_id}/journeys"
    wait_for(lambda: len(transit.get(path).json()["items"]) == 3, timeout=30, what="three journeys")

    pages = every_page(transit, path, limit=2)
    assert [len(p) for p in pages] == [2, 1]
    journeys = [j for p in pages for j in p]
    assert [j["started_at"] for j in journeys] == sorted((j["started_at"] for j in journeys), reverse=True)
    assert {(j["operator_id"], j["mode"], j["kind"], j["card_hint"]) for j in journeys} == {
        (operator_id, "bus", "paired", "…" + first[-4:])}

    cards = every_page(transit, f"/v1/members/{member.member_id}/card-links", limit=1)
    assert [[c["card_hint"] for c in p] for p in cards] == [["…" + first[-4:]], ["…" + second[-4:]]]
    for response in (transit.get(path), transit.get(f"/v1/members/{member.member_id}/card-links")):
        assert first not in response.text and second not in response.text

    phone = ServiceClient(services["transit-ingest"], scheme.member_token(member.member_id))
    assert len(phone.get(path).json()["items"]) == 3
    assert phone.get(f"/v1/members/{other.member_id}/journeys").status_code == 404
    assert phone.get(f"/v1/members/{other.member_id}/card-links").status_code == 404
    assert transit.get(path, params={"cursor": "not-ours"}).status_code == 422


def test_opportunities_near_a_point_and_in_a_range_of_days(client, scheme, services):
    organiser_id = new_id("org")
    organiser = client("points", f"organiser:{organiser_id}")
    # Somewhere no other test puts anything, so the answers are exactly ours.
    here = (round(random.uniform(-40, 40), 4), round(random.uniform(-170, 170), 4))
    leeds = ZoneInfo("Europe/London")

    def opportunity(title, starts_in: timedelta, at) -> dict:
        starts = now() + starts_in
        created = organiser.post("/v1/opportunities", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
            "title": title, "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "latitude": at[0], "longitude": at[1], "radius_m": 200})
        assert created.status_code == 201, created.text
        return created.json()

    tomorrow = opportunity("Tomorrow, here", timedelta(days=1), here)
    opportunity("Tomorrow, 33 km away", timedelta(days=1), (here[0] + 0.3, here[1]))
    later = opportunity("In ten days, here", timedelta(days=10), here)

    app = client("points")
    near = {"near": f"{here[0]},{here[1]}", "radius_km": 5}
    pages = every_page(app, "/v1/opportunities", limit=1, **near)
    assert [[o["opportunity_id"] for o in p] for p in pages] == [[tomorrow["opportunity_id"]],
                                                                  [later["opportunity_id"]]]
    assert pages[0][0]["distance_km"] == 0 and pages[0][0]["points_policy"]["points_per_hour"] > 0

    day = (now() + timedelta(days=1)).astimezone(leeds).date().isoformat()
    in_range = app.get("/v1/opportunities", params={**near, "from": day, "to": day}).json()["items"]
    assert [o["title"] for o in in_range] == ["Tomorrow, here"]
    wider = app.get("/v1/opportunities", params={**near, "radius_km": 50}).json()["items"]
    assert sorted(o["title"] for o in wider) == ["In ten days, here", "Tomorrow, 33 km away", "Tomorrow, here"]
    assert 30 < next(o for o in wider if "33 km" in o["title"])["distance_km"] < 36

    phone = ServiceClient(services["points"], scheme.member_token(scheme.register(points=0).member_id))
    assert len(phone.get("/v1/opportunities", params=near).json()["items"]) == 2
    assert client("points", f"organiser:{new_id('org')}").get("/v1/opportunities", params=near).json()["items"] == []

    for query, field in (({"near": "here"}, "near"), ({"near": "91,0"}, "near"), ({"radius_km": 0}, "radius_km"),
                         ({"from": "2026-12-10", "to": "2026-12-01"}, "to"), ({"from": "soon"}, "from")):
        refused = app.get("/v1/opportunities", params=query)
        assert refused.status_code == 422 and field in refused.json()["errors"], (query, refused.text)


def test_community_groups_with_their_totals(client, scheme, services):
    group_id = new_id("group")
    assert client("points", "catalogue").post("/v1/community-groups", json={
        "group_id": group_id, "name": "Hyde Park allotments"}).status_code == 201
    givers = [scheme.register(points=100) for _ in range(2)]
    for member, points in zip(givers, (30, 12), strict=True):
        given = client("points").post("/v1/donations", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
            "member_id": member.member_id, "group_id": group_id, "points": points})
        assert given.status_code == 201, given.text

    phone = ServiceClient(services["points"], scheme.member_token(givers[0].member_id))
    one = phone.get(f"/v1/community-groups/{group_id}")
    assert one.status_code == 200, one.text
    assert one.json() == {"group_id": group_id, "name": "Hyde Park allotments", "points_received": 42, "donors": 2}
    listed = [g for p in every_page(client("points"), "/v1/community-groups", limit=200) for g in p]
    assert next(g for g in listed if g["group_id"] == group_id)["points_received"] == 42
    assert [g["group_id"] for g in listed] == sorted(g["group_id"] for g in listed)
    assert client("points").get(f"/v1/community-groups/{new_id('group')}").status_code == 404


def test_the_catalogue_by_category_and_search(client, services):
    catalogue = client("redemption", "catalogue")
    partner_id = new_id("leisure")
    assert catalogue.post("/v1/partners", json={"partner_id": partner_id, "name": "Leisure centres"}).status_code == 201
    word = uuid.uuid4().hex[:10]

    def reward(title, category, description=None) -> str:
        reward_id = new_id("r")
        created = catalogue.post("/v1/rewards", json={
            "reward_id": reward_id, "partner_id": partner_id, "title": title, "description": description,
            "cost_points": 50, "stock": 10, "category": category})
        assert created.status_code == 201, created.text
        assert created.json()["category"] == category
        return reward_id

    swim = reward(f"Swim at Fearnville {word}", "leisure")
    gym = reward("Gym session", "leisure", description=f"Any centre, {word.upper()} included")
    coffee = reward(f"Coffee {word}", "food_and_drink")
    reward("100% off nothing", "other")

    app = client("redemption")
    found = every_page(app, "/v1/rewards", category="leisure", q=word, limit=1)
    assert sorted(r["reward_id"] for p in found for r in p) == sorted([swim, gym])
    assert [r["reward_id"] for r in app.get("/v1/rewards", params={"q": word}).json()["items"]] == sorted(
        [swim, gym, coffee])
    percent = app.get("/v1/rewards", params={"q": f"%{word}"}).json()["items"]
    assert percent == []  # a % is looked for as itself, not as a wildcard
    refused = app.get("/v1/rewards", params={"category": "spaceflight"})
    assert refused.status_code == 422 and "category" in refused.json()["errors"]


def test_a_partners_locations(client, services):
    catalogue = client("redemption", "catalogue")
    partner_id, other_partner = new_id("cafe"), new_id("cafe")
    for pid in (partner_id, other_partner):
        assert catalogue.post("/v1/partners", json={"partner_id": pid, "name": "Café"}).status_code == 201
    path = f"/v1/partners/{partner_id}/locations"
    for location_id, lat in (("briggate", 53.7983), ("headingley", 53.8195)):
        created = catalogue.post(path, json={"location_id": location_id, "name": f"Café {location_id}",
                                             "address": "Leeds", "latitude": lat, "longitude": -1.5426})
        assert created.status_code == 201, created.text
    assert catalogue.post(path, json={"location_id": "briggate", "name": "Again", "latitude": 1,
                                      "longitude": 1}).status_code == 409
    refused = catalogue.post(path, json={"location_id": "moon", "name": "Moon", "latitude": 91, "longitude": 0})
    assert refused.status_code == 422 and "latitude" in refused.json()["errors"]

    pages = every_page(client("redemption"), path, limit=1)
    assert [[(loc["location_id"], loc["latitude"]) for loc in p] for p in pages] == [
        [("briggate", 53.7983)], [("headingley", 53.8195)]]
    till = client("redemption", f"partner:{partner_id}")
    assert till.get(path).status_code == 200
    assert till.get(f"/v1/partners/{other_partner}/locations").status_code == 403
    assert client("redemption").get(f"/v1/partners/{new_id('cafe')}/locations").status_code == 404

    assert catalogue.delete(f"{path}/briggate").status_code == 204
    assert catalogue.delete(f"{path}/briggate").status_code == 404
    assert [loc["location_id"] for loc in client("redemption").get(path).json()["items"]] == ["headingley"]


@pytest.mark.parametrize("ttl_seconds, status", [(None, 201), (600, 201), (86_401, 422), (291_439_604_288_333, 422),
                                                 (59, 422)])
def test_a_member_credential_lives_as_long_as_asked_within_the_limit(client, scheme, ttl_seconds, status):
    member_id = scheme.register(points=0).member_id
    body = {} if ttl_seconds is None else {"ttl_seconds": ttl_seconds}
    minted = client("points").post(f"/v1/members/{member_id}/credentials", json=body)
    assert minted.status_code == status, minted.text
    if status == 422:
        assert minted.headers["Content-Type"].startswith("application/problem+json")
        assert "ttl_seconds" in minted.json()["errors"]
