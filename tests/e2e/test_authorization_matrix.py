"""Every operation of every service × every role × own or another's objects, against the running stack.

The operations come from the services' OpenAPI documents; the expected statuses from the checked-in
table beside this file (authorization.table). A new operation without a row fails the test, as does any
status that differs; a 2xx where the table expects a refusal is reported as a leak."""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from points import volunteering
from tests.support.api import ServiceClient
from tests.support.polling import wait_for
from tests.support.scheme import SITE, Member, Scheme, Tenants, new_id, now

TABLE = Path(__file__).with_name("authorization.table")
ROLES = ("app", "member", "admin", "catalogue", "finance", "support", "analyst", "operator", "partner", "organiser",
         "provider")
SIDES = ("own", "other")
Operation = tuple[str, str, str]
PAST_CHALLENGE = {"title": "Matrix", "kind": "count", "activity": "transit.journey", "target": 1,
                  "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-01-02T00:00:00Z", "bonus_points": 1}
LOCATION = {"name": "Kirkgate Market stall", "latitude": 53.7966, "longitude": -1.5405}


def read_table() -> dict[Operation, dict[str, tuple[int, int]]]:
    expected = {}
    for line in TABLE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        service, method, path, *cells = line.split()
        if len(cells) == len(ROLES) - 1:  # a row without a provider cell: providers are refused by role
            cells.append("-")
        assert len(cells) == len(ROLES), f"{TABLE.name}: {len(cells)} cells, {len(ROLES)} roles: {line}"
        expected[(service, method, path)] = {role: _statuses(cell) for role, cell in zip(ROLES, cells, strict=True)}
    return expected


def _statuses(cell: str) -> tuple[int, int]:
    if cell == "-":
        return 403, 403
    own, _, other = cell.partition("/")
    return int(own), int(other or own)


def documented_operations(services: dict[str, str]) -> set[Operation]:
    found = set()
    for service, url in services.items():
        document = ServiceClient(url).get("/openapi.json").json()
        for path, operations in document["paths"].items():
            found |= {(service, method.upper(), path) for method in operations
                      if method in ("get", "post", "put", "patch", "delete")}
    return found


@dataclass
class Call:
    params: dict = field(default_factory=dict)
    json: object = None
    data: bytes | None = None
    query: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


@dataclass
class Side:
    tenants: Tenants
    member: Member
    feed_id: str
    export_id: str
    group_id: str
    spare_opportunity_id: str  # one the side's member has not attended yet
    challenge_id: str
    location_id: str
    provider_id: str
    referral_code: str  # the code the side's member joined with


class World:
    """Member A with operator X, partner P1, organiser O1, provider V1 (own); member B with Y, P2, O2, V2
    (other)."""

    def __init__(self, scheme: Scheme):
        self.scheme = scheme
        self.sides = {side: self._side() for side in SIDES}

    def _side(self) -> Side:
        tenants = self.scheme.tenants()
        referrer = self.scheme.register(points=0).member_id
        code = self.scheme.client("points").get(f"/v1/members/{referrer}/referral-code").json()["referral_code"]
        member = self.scheme.member(tenants, referral_code=code)
        provider_id = new_id("leisure")
        assert self.scheme.client("points", "admin").post("/v1/providers", json={
            "provider_id": provider_id, "name": "Leisure centre", "kinds": ["leisure.visit"]}).status_code == 201
        operator = self.scheme.client("transit-ingest", f"operator:{tenants.operator_id}")
        feed = operator.post(f"/v1/operators/{tenants.operator_id}/feeds?format=littlepay-v3", data=b"nonsense\n")
        assert feed.status_code == 202, feed.text
        export = self.scheme.client("points").post(f"/v1/members/{member.member_id}/exports")
        assert export.status_code == 202, export.text
        group_id = new_id("group")
        assert self.scheme.client("points", "catalogue").post("/v1/community-groups", json={
            "group_id": group_id, "name": "Food bank"}).status_code == 201
        return Side(tenants, member, feed.json()["feed_id"], export.json()["export_id"], group_id,
                    self.scheme.opportunity(tenants.organiser_id), self.challenge(), self.location(tenants.partner_id),
                    provider_id, code)

    def challenge(self) -> str:
        """One long over, so nobody's journeys count towards it."""
        challenge_id = new_id("ch")
        created = self.scheme.client("points", "admin").post("/v1/challenges", json=PAST_CHALLENGE | {
            "challenge_id": challenge_id})
        assert created.status_code == 201, created.text
        return challenge_id

    def location(self, partner_id: str) -> str:
        location_id = new_id("shop")
        created = self.scheme.client("redemption", "catalogue").post(f"/v1/partners/{partner_id}/locations",
                                                                     json=LOCATION | {"location_id": location_id})
        assert created.status_code == 201, created.text
        return location_id

    def member_for(self, side: str, role: str) -> str:
        """Whose object a changing call works on: for a member-bound credential its own member (or the
        other member, whom it must not reach); for anyone else a new member, so nothing here changes."""
        if role == "member":
            return self.sides[side].member.member_id
        return self.scheme.register(points=100).member_id


def builders(world: World) -> dict[Operation, Callable[[str, str], Call]]:
    scheme = world.scheme

    def s(side):
        return world.sides[side]

    def member_path(side, role):
        return Call({"member_id": s(side).member.member_id})

    def keyed(call: Call) -> Call:
        call.headers["Idempotency-Key"] = uuid.uuid4().hex
        return call

    def fresh_attendance(side, role):
        if role != "organiser" or side == "other":
            return s(side).member.attendance_id
        return scheme.attendance(scheme.register(points=0).member_id, s(side).tenants)

    def fresh_link(side, role):
        member_id = world.member_for(side, role) if side == "own" else s(side).member.member_id
        return {"operator_id": s(side).tenants.operator_id,
                "card_ref": scheme.link(member_id, s(side).tenants.operator_id)}

    def fresh_membership(side, role):
        member_id = world.member_for(side, role) if side == "own" else s(side).member.member_id
        linked = scheme.client("points").post(f"/v1/providers/{s(side).provider_id}/memberships", json={
            "member_id": member_id, "membership_ref": f"card-{uuid.uuid4().hex}"})
        assert linked.status_code == 201, linked.text
        return Call({"member_id": member_id, "provider_id": s(side).provider_id})

    def fresh_redemption(side, role):
        if side == "other" and role == "member":
            return s(side).member.redemption_id
        return scheme.redemption(world.member_for(side, role), s(side).tenants.reward_id)

    def fresh_voucher(side, role):
        if side == "other" or role != "partner":
            return s(side).member.voucher_code
        member_id = scheme.register(points=100).member_id
        return scheme.issued_redemption(member_id, s(side).tenants.reward_id)[1]

    def checkin(side, role):
        opportunity_id = s(side).spare_opportunity_id
        code = volunteering.totp(volunteering.code_secret(scheme.code_key, opportunity_id), now())
        return Call(json={"member_id": world.member_for(side, role), "opportunity_id": opportunity_id, "code": code,
                          "action": "in", **SITE})

    today = datetime.now(UTC).date().isoformat()
    stops = b"stop_id,stop_name,stop_lat,stop_lon\nS1,Briggate,53.7990,-1.5420\n"
    tap = {"card_ref": "fs-matrix", "occurred_at": (now() - timedelta(hours=1)).isoformat(), "type": "single",
           "outcome": "allow", "mode": "bus"}

    return {
        ("points", "POST", "/v1/members"): lambda side, role: Call(json={"member_id": new_id("m")}),
        ("points", "DELETE", "/v1/members/{member_id}"):
            lambda side, role: Call({"member_id": world.member_for(side, role)}),
        ("points", "GET", "/v1/members/{member_id}/profile"): member_path,
        ("points", "PUT", "/v1/members/{member_id}/profile"):
            lambda side, role: Call({"member_id": s(side).member.member_id}, json={"research_consent": False}),
        ("points", "GET", "/v1/members/{member_id}/balance"): member_path,
        ("points", "GET", "/v1/members/{member_id}/transactions"): member_path,
        ("points", "POST", "/v1/members/{member_id}/credentials"):
            lambda side, role: Call({"member_id": s(side).member.member_id}, json={}),
        ("points", "POST", "/v1/members/{member_id}/exports"): member_path,
        ("points", "GET", "/v1/exports/{export_id}"): lambda side, role: Call({"export_id": s(side).export_id}),
        ("points", "GET", "/v1/rules"): lambda side, role: Call(),
        ("points", "POST", "/v1/rules"): lambda side, role: Call(json={
            "rule_id": f"matrix-{uuid.uuid4().hex[:8]}", "kind": "campaign", "definition": {
                "multiplier": 2, "activity": "journey", "starts_at": "2020-01-01T00:00:00Z",
                "ends_at": "2020-01-02T00:00:00Z"}}),
        ("points", "GET", "/v1/members/{member_id}/referral-code"): member_path,
        ("points", "POST", "/v1/members/{member_id}/referral"): lambda side, role: Call(
            {"member_id": world.member_for(side, role) if role != "member" else s(side).member.member_id},
            json={"referral_code": s(side).referral_code}),
        ("points", "GET", "/v1/providers"): lambda side, role: Call(),
        ("points", "POST", "/v1/providers"): lambda side, role: Call(json={
            "provider_id": new_id("library"), "name": "A library", "kinds": ["library.visit"]}),
        ("points", "POST", "/v1/providers/{provider_id}/memberships"): lambda side, role: Call(
            {"provider_id": s(side).provider_id},
            json={"member_id": world.member_for(side, role), "membership_ref": f"card-{uuid.uuid4().hex}"}),
        ("points", "GET", "/v1/members/{member_id}/memberships"): member_path,
        ("points", "DELETE", "/v1/members/{member_id}/memberships/{provider_id}"): fresh_membership,
        ("points", "POST", "/v1/providers/{provider_id}/activities"): lambda side, role: Call(
            {"provider_id": s(side).provider_id}, json={"activities": [{
                "activity_id": uuid.uuid4().hex, "member_id": s(side).member.member_id, "kind": "leisure.visit",
                "occurred_at": (now() - timedelta(hours=1)).isoformat()}]}),
        ("points", "POST", "/v1/adjustments"): lambda side, role: keyed(Call(json={
            "member_id": s(side).member.member_id, "points": 1, "reason": "authorization matrix"})),
        ("points", "POST", "/v1/community-groups"):
            lambda side, role: Call(json={"group_id": new_id("group"), "name": "A group"}),
        ("points", "POST", "/v1/donations"): lambda side, role: keyed(Call(json={
            "member_id": s(side).member.member_id, "group_id": s(side).group_id, "points": 1})),
        ("points", "POST", "/v1/opportunities"): lambda side, role: keyed(Call(json={
            "title": "Matrix", "organiser_id": s(side).tenants.organiser_id, "starts_at": now().isoformat(),
            "ends_at": (now() + timedelta(hours=1)).isoformat()})),
        ("points", "GET", "/v1/opportunities/{opportunity_id}"):
            lambda side, role: Call({"opportunity_id": s(side).tenants.opportunity_id}),
        ("points", "GET", "/v1/opportunities/{opportunity_id}/code"):
            lambda side, role: Call({"opportunity_id": s(side).tenants.opportunity_id}),
        ("points", "POST", "/v1/checkins"): checkin,
        ("points", "GET", "/v1/attendances"): lambda side, role: Call(query={
            "member_id": s(side).member.member_id, "organiser_id": s(side).tenants.organiser_id}),
        ("points", "GET", "/v1/attendances/{attendance_id}"):
            lambda side, role: Call({"attendance_id": s(side).member.attendance_id}),
        ("points", "POST", "/v1/attendances/{attendance_id}/confirm"):
            lambda side, role: Call({"attendance_id": s(side).member.attendance_id}, json={}),
        ("points", "POST", "/v1/attendances/{attendance_id}/reject"):
            lambda side, role: Call({"attendance_id": fresh_attendance(side, role)}, json={"reason": "matrix"}),
        ("points", "GET", "/v1/members/{member_id}"): member_path,
        ("points", "GET", "/v1/members/{member_id}/challenges"): member_path,
        ("points", "GET", "/v1/challenges"): lambda side, role: Call(),
        ("points", "POST", "/v1/challenges"):
            lambda side, role: Call(json=PAST_CHALLENGE | {"challenge_id": new_id("ch")}),
        ("points", "GET", "/v1/challenges/{challenge_id}"):
            lambda side, role: Call({"challenge_id": s(side).challenge_id}),
        ("points", "PATCH", "/v1/challenges/{challenge_id}"):
            lambda side, role: Call({"challenge_id": s(side).challenge_id}, json={"title": "Renamed"}),
        ("points", "GET", "/v1/community-groups"): lambda side, role: Call(),
        ("points", "GET", "/v1/community-groups/{group_id}"): lambda side, role: Call({"group_id": s(side).group_id}),
        ("points", "GET", "/v1/opportunities"):
            lambda side, role: Call(query={"near": f"{SITE['latitude']},{SITE['longitude']}", "radius_km": 1}),
        ("transit-ingest", "GET", "/v1/members/{member_id}/journeys"): member_path,
        ("redemption", "GET", "/v1/partners/{partner_id}/locations"):
            lambda side, role: Call({"partner_id": s(side).tenants.partner_id}),
        ("redemption", "POST", "/v1/partners/{partner_id}/locations"):
            lambda side, role: Call({"partner_id": s(side).tenants.partner_id},
                                    json=LOCATION | {"location_id": new_id("shop")}),
        ("redemption", "DELETE", "/v1/partners/{partner_id}/locations/{location_id}"):
            lambda side, role: Call({"partner_id": s(side).tenants.partner_id, "location_id": (
                world.location(s(side).tenants.partner_id) if role == "catalogue" else s(side).location_id)}),
        ("transit-ingest", "GET", "/v1/operators"): lambda side, role: Call(),
        ("transit-ingest", "POST", "/v1/operators"):
            lambda side, role: Call(json={"operator_id": new_id("bus"), "name": "More buses"}),
        ("transit-ingest", "GET", "/v1/operators/{operator_id}"):
            lambda side, role: Call({"operator_id": s(side).tenants.operator_id}),
        ("transit-ingest", "PATCH", "/v1/operators/{operator_id}"):
            lambda side, role: Call({"operator_id": s(side).tenants.operator_id}, json={"name": "Renamed buses"}),
        ("transit-ingest", "PUT", "/v1/operators/{operator_id}/stops"):
            lambda side, role: Call({"operator_id": s(side).tenants.operator_id}, data=stops),
        ("transit-ingest", "POST", "/v1/card-links"): lambda side, role: Call(json={
            "member_id": world.member_for(side, role), "operator_id": s(side).tenants.operator_id,
            "card_ref": f"fs-{uuid.uuid4().hex}"}),
        ("transit-ingest", "DELETE", "/v1/card-links/{operator_id}/{card_ref}"):
            lambda side, role: Call(fresh_link(side, role)),
        ("transit-ingest", "GET", "/v1/members/{member_id}/card-links"): member_path,
        ("transit-ingest", "POST", "/v1/operators/{operator_id}/taps"):
            lambda side, role: Call({"operator_id": s(side).tenants.operator_id},
                                    json={"taps": [{**tap, "tap_id": uuid.uuid4().hex}]}),
        ("transit-ingest", "GET", "/v1/operators/{operator_id}/feeds"):
            lambda side, role: Call({"operator_id": s(side).tenants.operator_id}),
        ("transit-ingest", "POST", "/v1/operators/{operator_id}/feeds"):
            lambda side, role: Call({"operator_id": s(side).tenants.operator_id}, query={"format": "tides"},
                                    data=b"nonsense\n"),
        ("transit-ingest", "GET", "/v1/operators/{operator_id}/feeds/{feed_id}"):
            lambda side, role: Call({"operator_id": s(side).tenants.operator_id, "feed_id": s(side).feed_id}),
        ("transit-ingest", "GET", "/v1/operators/{operator_id}/feeds/{feed_id}/rejections.csv"):
            lambda side, role: Call({"operator_id": s(side).tenants.operator_id, "feed_id": s(side).feed_id}),
        ("redemption", "GET", "/v1/partners"): lambda side, role: Call(),
        ("redemption", "POST", "/v1/partners"):
            lambda side, role: Call(json={"partner_id": new_id("shop"), "name": "Another shop"}),
        ("redemption", "GET", "/v1/partners/{partner_id}"):
            lambda side, role: Call({"partner_id": s(side).tenants.partner_id}),
        ("redemption", "PATCH", "/v1/partners/{partner_id}"):
            lambda side, role: Call({"partner_id": s(side).tenants.partner_id}, json={"name": "Renamed café"}),
        ("redemption", "GET", "/v1/rewards"): lambda side, role: Call(),
        ("redemption", "POST", "/v1/rewards"): lambda side, role: Call(json={
            "reward_id": new_id("cake"), "partner_id": s(side).tenants.partner_id, "title": "Cake",
            "cost_points": 5, "stock": 5}),
        ("redemption", "GET", "/v1/rewards/{reward_id}"):
            lambda side, role: Call({"reward_id": s(side).tenants.reward_id}),
        ("redemption", "PATCH", "/v1/rewards/{reward_id}"):
            lambda side, role: Call({"reward_id": s(side).tenants.reward_id}, json={"title": "A flat white"}),
        ("redemption", "POST", "/v1/redemptions"): lambda side, role: keyed(Call(json={
            "member_id": world.member_for(side, role), "reward_id": s(side).tenants.reward_id})),
        ("redemption", "GET", "/v1/redemptions/{redemption_id}"):
            lambda side, role: Call({"redemption_id": s(side).member.redemption_id}),
        ("redemption", "POST", "/v1/redemptions/{redemption_id}/cancel"):
            lambda side, role: Call({"redemption_id": fresh_redemption(side, role)}),
        ("redemption", "GET", "/v1/redemptions/{redemption_id}/voucher.{kind}"):
            lambda side, role: Call({"redemption_id": s(side).member.redemption_id, "kind": "png"}),
        ("redemption", "GET", "/v1/members/{member_id}/redemptions"): member_path,
        ("redemption", "POST", "/v1/pos/vouchers/{code}/validate"):
            lambda side, role: Call({"code": s(side).member.voucher_code}),
        ("redemption", "POST", "/v1/pos/vouchers/{code}/redeem"):
            lambda side, role: keyed(Call({"code": fresh_voucher(side, role)})),
        ("redemption", "GET", "/v1/partners/{partner_id}/settlement"):
            lambda side, role: Call({"partner_id": s(side).tenants.partner_id}, query={"from": today, "to": today}),
        ("notifications", "GET", "/v1/members/{member_id}/notifications"): member_path,
        ("notifications", "GET", "/v1/members/{member_id}/notifications/unread-count"): member_path,
        ("notifications", "POST", "/v1/members/{member_id}/notifications/{notification_id}/read"):
            lambda side, role: Call({"member_id": s(side).member.member_id,
                                     "notification_id": s(side).member.notification_id}),
        ("notifications", "POST", "/v1/members/{member_id}/notifications/read"): member_path,
        ("notifications", "GET", "/v1/members/{member_id}/contacts"): member_path,
        ("notifications", "PUT", "/v1/members/{member_id}/contacts"):
            lambda side, role: Call({"member_id": s(side).member.member_id}, json={
                "email": s(side).member.email, "phone": s(side).member.phone,
                "push_tokens": [s(side).member.push_token]}),
        ("notifications", "GET", "/v1/members/{member_id}/preferences"): member_path,
        ("notifications", "PUT", "/v1/members/{member_id}/preferences"):
            lambda side, role: Call({"member_id": s(side).member.member_id}, json={"locale": "en-GB"}),
        ("notifications", "GET", "/v1/members/{member_id}/deliveries"): member_path,
        ("notifications", "GET", "/v1/deliveries"): lambda side, role: Call(),
        ("impact", "GET", "/v1/reports/impact"): lambda side, role: Call(query={"from": today, "to": today}),
        ("impact", "GET", "/v1/reports/impact.html"): lambda side, role: Call(query={"from": today, "to": today}),
        ("impact", "GET", "/v1/journeys/{journey_id}/impact"):
            lambda side, role: Call({"journey_id": s(side).member.journey_id}),
    }


@pytest.fixture
def scheme(client, stack_env) -> Scheme:
    return Scheme(client, Path(stack_env["VOLUNTEERING_CODE_KEY_FILE"]).read_text())


def test_the_table_names_every_documented_operation_and_nothing_else(services):
    documented, listed = documented_operations(services), set(read_table())
    assert not documented - listed, f"add a row to {TABLE.name} for: {sorted(documented - listed)}"
    assert not listed - documented, f"{TABLE.name} names operations no service documents: {sorted(listed - documented)}"


def test_every_role_reaches_exactly_what_the_table_says(services, client, scheme):
    world = World(scheme)
    own = world.sides["own"]
    member_token = scheme.member_token(own.member.member_id)
    tenants = {"operator": f"operator:{own.tenants.operator_id}", "partner": f"partner:{own.tenants.partner_id}",
               "organiser": f"organiser:{own.tenants.organiser_id}", "provider": f"provider:{own.provider_id}"}

    def caller(service: str, role: str | None) -> ServiceClient:
        if role == "member":
            return ServiceClient(services[service], member_token)
        return client(service, tenants.get(role, role))

    for side in SIDES:  # the impact service has counted both members' journeys
        journey = world.sides[side].member.journey_id
        wait_for(lambda j=journey: client("impact", "analyst").get(f"/v1/journeys/{j}/impact").ok, timeout=60,
                 what=f"the impact of journey {journey}")
    expected, build = read_table(), builders(world)
    assert set(build) == set(expected), "every row needs a way to call it"

    mismatches, leaks, calls = [], [], 0
    for (service, method, path), statuses in expected.items():
        for role in (None, *ROLES):
            http = caller(service, role)
            for index, side in enumerate(SIDES):
                want = 401 if role is None else statuses[role][index]
                # A refused call is made as a member's would be, so it would change nothing new if let through.
                call = build[(service, method, path)](side, role if want < 400 else "member")
                got = _send(http, method, path, call).status_code
                calls += 1
                if got != want:
                    mismatches.append(f"{role or 'anonymous'} {side}: {method} {path} ({service}) → {got}, "
                                      f"expected {want}")
                    if got < 400 <= want:
                        leaks.append(mismatches[-1])
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks)
    assert not mismatches, f"{len(mismatches)} of {calls} calls differ from {TABLE.name}:\n" + "\n".join(mismatches)


def _send(http: ServiceClient, method: str, path: str, call: Call):
    concrete = re.sub(r"\{(\w+)\}", lambda m: str(call.params[m.group(1)]), path)
    return http.request(method, concrete, params=call.query or None, json=call.json, data=call.data,
                        headers=call.headers)
