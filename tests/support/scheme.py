"""A populated scheme for end-to-end tests, made through the services' own APIs as their callers would:
tenants (an operator, a partner with a reward, an organiser with an opportunity) and members who hold
something in every service (points, a card and a journey, an attendance, a voucher, contact details,
preferences, notifications). Each call makes new ids, so tests sharing a stack never meet."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from points import volunteering
from tests.support.api import ServiceClient
from tests.support.polling import wait_for

SITE = {"latitude": 53.80007, "longitude": -1.54908}


@dataclass(frozen=True)
class Tenants:
    operator_id: str
    partner_id: str
    reward_id: str
    organiser_id: str
    opportunity_id: str


@dataclass
class Member:
    member_id: str
    email: str
    phone: str
    push_token: str
    card_ref: str | None = None
    journey_id: str | None = None
    attendance_id: str | None = None
    redemption_id: str | None = None
    voucher_code: str | None = None
    notification_id: str | None = None
    extra: dict = field(default_factory=dict)


def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Scheme:
    def __init__(self, client: Callable[..., ServiceClient], code_key: str):
        self.client = client
        self.code_key = code_key

    # --- tenants ----------------------------------------------------------------------------------

    def tenants(self) -> Tenants:
        operator_id, partner_id, organiser_id = new_id("bus"), new_id("cafe"), new_id("org")
        created = self.client("transit-ingest", "admin").post("/v1/operators", json={
            "operator_id": operator_id, "name": "Test buses", "default_mode": "bus"})
        assert created.status_code == 201, created.text
        catalogue = self.client("redemption", "catalogue")
        created = catalogue.post("/v1/partners", json={"partner_id": partner_id, "name": "Test café",
                                                       "contact_email": "till@cafe.example"})
        assert created.status_code == 201, created.text
        reward_id = self.reward(partner_id)
        opportunity_id = self.opportunity(organiser_id)
        return Tenants(operator_id, partner_id, reward_id, organiser_id, opportunity_id)

    def reward(self, partner_id: str) -> str:
        reward_id = new_id("coffee")
        created = self.client("redemption", "catalogue").post("/v1/rewards", json={
            "reward_id": reward_id, "partner_id": partner_id, "title": "Flat white", "cost_points": 10,
            "stock": 10_000, "per_member_limit": None, "funded_by": "council", "settlement_pence": 250})
        assert created.status_code == 201, created.text
        return reward_id

    def opportunity(self, organiser_id: str) -> str:
        created = self.client("points", f"organiser:{organiser_id}").post(
            "/v1/opportunities", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
                "title": "Litter pick", "starts_at": (now() - timedelta(hours=3)).isoformat(),
                "ends_at": (now() + timedelta(hours=3)).isoformat(), "radius_m": 200, **SITE})
        assert created.status_code == 201, created.text
        return created.json()["opportunity_id"]

    # --- members ----------------------------------------------------------------------------------

    def register(self, points: int = 1000, member_id: str | None = None, referral_code: str | None = None) -> Member:
        member_id = member_id or new_id("m")
        joining = {"member_id": member_id, **({"referral_code": referral_code} if referral_code else {})}
        assert self.client("points").post("/v1/members", json=joining).status_code == 201
        if points:
            credited = self.client("points", "finance").post(
                "/v1/adjustments", json={"member_id": member_id, "points": points, "reason": "test credit"},
                headers={"Idempotency-Key": uuid.uuid4().hex})
            assert credited.status_code == 201, credited.text
        suffix = uuid.uuid4().int % 10**6
        return Member(member_id, email=f"{member_id}@mail.example", phone=f"+4477009{suffix:06d}",
                      push_token=f"push-{uuid.uuid4().hex}")

    def member(self, tenants: Tenants, **options) -> Member:
        """A member with something in every service."""
        member = self.register(**options)
        self.contacts(member)
        self.journey(member, tenants.operator_id)
        member.attendance_id = self.attendance(member.member_id, tenants)
        member.redemption_id, member.voucher_code = self.issued_redemption(member.member_id, tenants.reward_id)
        member.notification_id = wait_for(
            lambda: (items := self.client("notifications").get(
                f"/v1/members/{member.member_id}/notifications").json()["items"]) and items[0]["id"],
            timeout=30, what="a notification")
        return member

    def contacts(self, member: Member) -> None:
        notifications = self.client("notifications")
        stored = notifications.put(f"/v1/members/{member.member_id}/contacts", json={
            "email": member.email, "phone": member.phone, "push_tokens": [member.push_token]})
        assert stored.status_code == 200, stored.text
        chosen = notifications.put(f"/v1/members/{member.member_id}/preferences", json={"locale": "en-GB"})
        assert chosen.status_code == 200, chosen.text

    def link(self, member_id: str, operator_id: str) -> str:
        card_ref = f"fs-{uuid.uuid4().hex}"
        linked = self.client("transit-ingest").post("/v1/card-links", json={
            "member_id": member_id, "operator_id": operator_id, "card_ref": card_ref})
        assert linked.status_code == 201, linked.text
        return card_ref

    def taps(self, operator_id: str, card_ref: str, *, at: datetime) -> list[dict]:
        """A tap-on and a tap-off; the journey's id comes from the tap-on."""
        prefix = uuid.uuid4().hex[:12]
        stamps = [at, at + timedelta(minutes=21)]
        taps = [{"tap_id": f"{prefix}-{kind}", "card_ref": card_ref, "occurred_at": stamp.isoformat(), "type": kind,
                 "outcome": "allow", "mode": "bus", "route_id": "19", "stop_id": f"S{n}", "latitude": 53.7997 + n / 100,
                 "longitude": -1.5492} for n, (kind, stamp) in enumerate(zip(("on", "off"), stamps, strict=True))]
        pushed = self.client("transit-ingest", f"operator:{operator_id}").post(
            f"/v1/operators/{operator_id}/taps", json={"taps": taps})
        assert pushed.status_code == 202 and pushed.json()["accepted"] == 2, pushed.text
        return taps

    def journey(self, member: Member, operator_id: str) -> None:
        """Link a card and travel on it: the ledger credits the journey."""
        member.card_ref = self.link(member.member_id, operator_id)
        before = self.balance(member.member_id)["lifetime_earned"]
        taps = self.taps(operator_id, member.card_ref, at=now() - timedelta(hours=2))
        wait_for(lambda: self.balance(member.member_id)["lifetime_earned"] > before, timeout=30,
                 what="points for the journey")
        history = self.client("points").get(f"/v1/members/{member.member_id}/transactions").json()["items"]
        member.journey_id = next(t["source_id"] for t in history if t["source_type"] == "journey")
        member.extra["tap_ids"] = [t["tap_id"] for t in taps]

    def balance(self, member_id: str) -> dict:
        return self.client("points").get(f"/v1/members/{member_id}/balance").json()

    def attendance(self, member_id: str, tenants: Tenants, *, minutes_ago: int = 90) -> str:
        """Checked in `minutes_ago` (a scan sent later), checked out now: awaiting confirmation."""
        app = self.client("points")
        scanned_at = now() - timedelta(minutes=minutes_ago)
        code = volunteering.totp(volunteering.code_secret(self.code_key, tenants.opportunity_id), scanned_at)
        checked_in = app.post("/v1/checkins", json={
            "member_id": member_id, "opportunity_id": tenants.opportunity_id, "code": code, "action": "in",
            "scanned_at": scanned_at.isoformat(), **SITE})
        assert checked_in.status_code == 201, checked_in.text
        code = volunteering.totp(volunteering.code_secret(self.code_key, tenants.opportunity_id), now())
        checked_out = app.post("/v1/checkins", json={
            "member_id": member_id, "opportunity_id": tenants.opportunity_id, "code": code, "action": "out", **SITE})
        assert checked_out.status_code == 200, checked_out.text
        return checked_out.json()["attendance_id"]

    def redemption(self, member_id: str, reward_id: str) -> str:
        requested = self.client("redemption").post("/v1/redemptions", json={
            "member_id": member_id, "reward_id": reward_id}, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert requested.status_code == 202, requested.text
        return requested.json()["redemption_id"]

    def issued_redemption(self, member_id: str, reward_id: str) -> tuple[str, str]:
        redemption_id = self.redemption(member_id, reward_id)
        issued = wait_for(lambda: (r := self.client("redemption").get(
            f"/v1/redemptions/{redemption_id}", params={"wait": 5}).json())["status"] != "pending" and r,
            timeout=30, what="the voucher")
        assert issued["status"] == "issued", issued
        return redemption_id, issued["voucher_code"]

    def member_token(self, member_id: str) -> str:
        minted = self.client("points").post(f"/v1/members/{member_id}/credentials", json={})
        assert minted.status_code == 201, minted.text
        return minted.json()["token"]
