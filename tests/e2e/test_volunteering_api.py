"""Volunteering over HTTP with the real points worker: an organiser's opportunity and rotating code, the
app's check-in and check-out, pending points, and the organiser's confirmation or rejection."""
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from points import volunteering
from tests.support.polling import wait_for

SERVICES = ["points"]
SITE = {"latitude": 53.80007, "longitude": -1.54908}
STATION = {"latitude": 53.79490, "longitude": -1.54763}


@pytest.fixture(scope="module")
def code_key(stack_env) -> str:
    return Path(stack_env["VOLUNTEERING_CODE_KEY_FILE"]).read_text()


@pytest.fixture
def organiser_id() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def organiser(client, organiser_id):
    return client("points", f"organiser:{organiser_id}")


@pytest.fixture
def app(client):
    return client("points")


@pytest.fixture
def member(app, member_id):
    assert app.post("/v1/members", json={"member_id": member_id}).status_code == 201
    return member_id


def now() -> datetime:
    return datetime.now(UTC)


def opening(**overrides) -> dict:
    return {"title": "Woodhouse Moor litter pick", "starts_at": (now() - timedelta(hours=3)).isoformat(),
            "ends_at": (now() + timedelta(hours=2)).isoformat(), "radius_m": 200, **SITE, **overrides}


def create(organiser, body=None, key=None, **overrides) -> dict:
    response = organiser.post("/v1/opportunities", json=body or opening(**overrides),
                              headers={"Idempotency-Key": key or uuid.uuid4().hex})
    assert response.status_code == 201, response.text
    return response.json()


def code_at(code_key, opportunity_id, at) -> str:
    return volunteering.totp(volunteering.code_secret(code_key, opportunity_id), at)


def checkin(app, member_id, opportunity_id, code, action, **extra):
    return app.post("/v1/checkins", json={"member_id": member_id, "opportunity_id": opportunity_id, "code": code,
                                          "action": action, **SITE, **extra})


def attend(app, organiser, code_key, member_id, opportunity_id, minutes_ago):
    """Check in as if the code had been scanned `minutes_ago` (sent later by the app), then out now."""
    scanned_at = now() - timedelta(minutes=minutes_ago)
    checked_in = checkin(app, member_id, opportunity_id, code_at(code_key, opportunity_id, scanned_at), "in",
                         scanned_at=scanned_at.isoformat())
    assert checked_in.status_code == 201, checked_in.text
    code = organiser.get(f"/v1/opportunities/{opportunity_id}/code").json()["code"]
    checked_out = checkin(app, member_id, opportunity_id, code, "out")
    assert checked_out.status_code == 200, checked_out.text
    return checked_out.json()


def balance(app, member_id) -> dict:
    return app.get(f"/v1/members/{member_id}/balance").json()


def test_confirmed_attendance_turns_pending_into_available_at_50_an_hour(app, organiser, client, code_key,
                                                                         member, organiser_id):
    opportunity = create(organiser)
    shown = organiser.get(f"/v1/opportunities/{opportunity['opportunity_id']}/code")
    assert shown.status_code == 200
    assert len(shown.json()["code"]) == 6 and shown.json()["qr_svg"].startswith("<svg")
    assert shown.json()["link"].endswith(f"code={shown.json()['code']}")

    attendance = attend(app, organiser, code_key, member, opportunity["opportunity_id"], minutes_ago=120)
    assert (attendance["status"], attendance["minutes"], attendance["pending_points"]) == \
        ("awaiting_confirmation", 120, 100)
    assert balance(app, member)["pending"] == 100 and balance(app, member)["available"] == 0
    queue = organiser.get("/v1/attendances", params={"status": "awaiting_confirmation"}).json()["items"]
    assert [a["attendance_id"] for a in queue] == [attendance["attendance_id"]]

    confirm_path = f"/v1/attendances/{attendance['attendance_id']}/confirm"
    stranger = client("points", "organiser:someone-else")
    assert stranger.post(confirm_path, json={}).status_code == 403
    assert app.post(confirm_path, json={}).status_code == 403
    confirmed = organiser.post(confirm_path, json={})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert organiser.post(confirm_path, json={}).json() == confirmed.json()

    settled = wait_for(lambda: (b := balance(app, member))["pending"] == 0 and b, what="the confirmed points")
    assert (settled["available"], settled["lifetime_earned"]) == (100, 100)
    history = app.get(f"/v1/members/{member}/transactions").json()["items"]
    assert (history[0]["points"], history[0]["source_type"], history[0]["source_id"], history[0]["rule_id"]) == \
        (100, "attendance", attendance["attendance_id"], "volunteering-hours")
    assert app.get(f"/v1/attendances/{attendance['attendance_id']}").json()["status"] == "confirmed"
    assert stranger.get(f"/v1/attendances/{attendance['attendance_id']}").status_code == 403


def test_an_auto_confirmed_opportunity_credits_at_check_out(app, organiser, code_key, member):
    opportunity = create(organiser, auto_confirm=True, latitude=None, longitude=None, radius_m=None)
    attendance = attend(app, organiser, code_key, member, opportunity["opportunity_id"], minutes_ago=90)
    assert (attendance["status"], attendance["decided_by"]) == ("confirmed", "auto_confirm")
    settled = wait_for(lambda: (b := balance(app, member))["available"] > 0 and b, what="auto-confirmed points")
    assert (settled["available"], settled["pending"]) == (75, 0)


def test_a_rejected_attendance_loses_its_pending_points(app, organiser, code_key, member):
    opportunity = create(organiser)
    attendance = attend(app, organiser, code_key, member, opportunity["opportunity_id"], minutes_ago=60)
    assert balance(app, member)["pending"] == 50
    path = f"/v1/attendances/{attendance['attendance_id']}"
    assert organiser.post(path + "/reject", json={}).json()["errors"] == {"reason": ["Missing data for required "
                                                                                      "field."]}
    rejected = organiser.post(path + "/reject", json={"reason": "not on the sign-in sheet"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert organiser.post(path + "/reject", json={"reason": "not on the sign-in sheet"}).status_code == 200
    assert (balance(app, member)["pending"], balance(app, member)["available"]) == (0, 0)
    too_late = organiser.post(path + "/confirm", json={})
    assert too_late.status_code == 409 and too_late.json()["state"] == "rejected"


def test_check_in_mistakes_get_clear_problems(app, organiser, code_key, member):
    opportunity_id = create(organiser, min_minutes=30)["opportunity_id"]
    code = organiser.get(f"/v1/opportunities/{opportunity_id}/code").json()["code"]
    wrong = checkin(app, member, opportunity_id, f"{(int(code) + 1) % 10 ** 6:06d}", "in")
    assert wrong.status_code == 422 and wrong.headers["Content-Type"] == "application/problem+json"
    assert set(wrong.json()["errors"]) == {"code"}
    stale_at = now() - timedelta(minutes=5)
    stale = checkin(app, member, opportunity_id, code_at(code_key, opportunity_id, stale_at), "in")
    assert stale.status_code == 422 and set(stale.json()["errors"]) == {"code"}
    outside = checkin(app, member, opportunity_id, code, "in", **STATION)
    assert outside.status_code == 422 and set(outside.json()["errors"]) == {"latitude", "longitude"}
    assert outside.json()["distance_m"] == 583 and outside.json()["radius_m"] == 200
    not_in = checkin(app, member, opportunity_id, code, "out")
    assert not_in.status_code == 409 and not_in.json()["state"] == "not_checked_in"

    first = checkin(app, member, opportunity_id, code, "in")
    assert first.status_code == 201, first.text
    again = checkin(app, member, opportunity_id, code, "in")
    assert again.status_code == 409 and again.json()["attendance_id"] == first.json()["attendance_id"]
    too_short = checkin(app, member, opportunity_id, code, "out")
    assert too_short.status_code == 422 and set(too_short.json()["errors"]) == {"action"}
    assert too_short.json()["min_minutes"] == 30
    assert app.get(f"/v1/attendances/{first.json()['attendance_id']}").json()["status"] == "checked_in"

    unknown = checkin(app, member, "no-such-opportunity", code, "in")
    assert unknown.status_code == 404 and set(unknown.json()["errors"]) == {"opportunity_id"}
    malformed = app.post("/v1/checkins", json={"member_id": member, "opportunity_id": opportunity_id,
                                               "code": "12ab", "action": "sideways", "latitude": 91})
    assert malformed.status_code == 422
    assert set(malformed.json()["errors"]) == {"code", "action", "latitude"}


def test_a_retried_check_in_with_its_key_replays_the_original(app, organiser, member):
    opportunity_id = create(organiser)["opportunity_id"]
    code = organiser.get(f"/v1/opportunities/{opportunity_id}/code").json()["code"]
    body = {"member_id": member, "opportunity_id": opportunity_id, "code": code, "action": "in", **SITE}
    first = app.post("/v1/checkins", json=body, headers={"Idempotency-Key": f"in-{member}"})
    replay = app.post("/v1/checkins", json=body, headers={"Idempotency-Key": f"in-{member}"})
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"


def test_opportunities_belong_to_their_organiser(app, organiser, client, organiser_id):
    key, body = uuid.uuid4().hex, opening()
    opportunity = create(organiser, body, key=key)
    assert opportunity["organiser_id"] == organiser_id
    assert create(organiser, body, key=key) == opportunity
    assert opportunity["points_policy"] == {"rule_id": "volunteering-hours", "rule_version": 1,
                                            "points_per_hour": 50, "min_minutes": 30, "max_hours_per_day": 8.0}
    path = f"/v1/opportunities/{opportunity['opportunity_id']}"
    assert app.get(path).json()["title"] == "Woodhouse Moor litter pick"
    assert opportunity["min_minutes"] == 30
    too_short = organiser.post("/v1/opportunities", json=opening(min_minutes=1),
                               headers={"Idempotency-Key": uuid.uuid4().hex})
    assert too_short.status_code == 422 and set(too_short.json()["errors"]) == {"min_minutes"}
    assert too_short.json()["rule_min_minutes"] == 30
    stranger = client("points", "organiser:someone-else")
    assert stranger.get(path).status_code == 403
    assert stranger.get(path + "/code").status_code == 403 and app.get(path + "/code").status_code == 403

    for_another = organiser.post("/v1/opportunities", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
        "title": "x", "organiser_id": "someone-else", "starts_at": now().isoformat(),
        "ends_at": (now() + timedelta(hours=1)).isoformat()})
    assert for_another.status_code == 403 and set(for_another.json()["errors"]) == {"organiser_id"}
    assert client("points", "admin").post("/v1/opportunities", headers={"Idempotency-Key": "k"},
                                          json={}).status_code == 403
    catalogue = client("points", "catalogue")
    unowned = catalogue.post("/v1/opportunities", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
        "title": "x", "starts_at": now().isoformat(), "ends_at": (now() + timedelta(hours=1)).isoformat()})
    assert unowned.status_code == 422 and set(unowned.json()["errors"]) == {"organiser_id"}
    bad = organiser.post("/v1/opportunities", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
        "title": "", "starts_at": "tomorrow", "ends_at": now().isoformat(), "radius_m": 5, "latitude": 100})
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"title", "starts_at", "radius_m", "latitude"}
    backwards = organiser.post("/v1/opportunities", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
        "title": "x", "starts_at": now().isoformat(), "ends_at": (now() - timedelta(hours=1)).isoformat()})
    assert backwards.status_code == 422 and set(backwards.json()["errors"]) == {"ends_at"}
    assert app.post("/v1/opportunities", headers={"Idempotency-Key": "k"}, json={}).status_code == 403


def test_an_organiser_pages_through_its_attendances(app, organiser, client):
    opportunity_id = create(organiser)["opportunity_id"]
    code = organiser.get(f"/v1/opportunities/{opportunity_id}/code").json()["code"]
    members = [f"m-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    for member_id in members:
        assert app.post("/v1/members", json={"member_id": member_id}).status_code == 201
        assert checkin(app, member_id, opportunity_id, code, "in").status_code == 201
    seen, cursor = [], None
    while True:
        page = organiser.get("/v1/attendances", params={"opportunity_id": opportunity_id, "limit": 2,
                                                        **({"cursor": cursor} if cursor else {})}).json()
        seen += [a["member_id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == members
    others = client("points", "organiser:someone-else").get("/v1/attendances",
                                                            params={"opportunity_id": opportunity_id})
    assert others.json()["items"] == []
