"""The walking skeleton, over HTTP only: a linked card's bus journey earns points and a notification."""
import uuid

from tests.support.polling import wait_for


def taps(card_ref, prefix):
    return [
        {"tap_id": f"{prefix}-on", "card_ref": card_ref, "occurred_at": "2026-11-20T07:41:12Z", "type": "on",
         "outcome": "allow", "mode": "bus", "route_id": "19", "stop_id": "S1001", "direction": "inbound",
         "vehicle_id": "BUS-204", "latitude": 53.7997, "longitude": -1.5492},
        {"tap_id": f"{prefix}-off", "card_ref": card_ref, "occurred_at": "2026-11-20T08:02:40Z", "type": "off",
         "outcome": "allow", "mode": "bus", "route_id": "19", "stop_id": "S2040", "direction": "inbound",
         "vehicle_id": "BUS-204", "latitude": 53.8392, "longitude": -1.4963},
    ]


def test_a_bus_journey_earns_points_and_a_notification(client, member_id):
    points, transit, notifications = client("points"), client("transit-ingest"), client("notifications")
    operator = client("transit-ingest", "operator:leeds-bus")
    card_ref = f"fs-{uuid.uuid4().hex}"

    assert points.post("/v1/members", json={"member_id": member_id}).status_code == 201
    assert points.post("/v1/members", json={"member_id": member_id}).status_code == 200
    link = transit.post("/v1/card-links", json={"member_id": member_id, "operator_id": "leeds-bus",
                                                "card_ref": card_ref})
    assert link.status_code == 201, link.text
    assert card_ref not in link.text

    pushed = operator.post("/v1/operators/leeds-bus/taps", json={"taps": taps(card_ref, member_id)})
    assert pushed.status_code == 202, pushed.text
    assert pushed.json() == {"accepted": 2, "duplicates": 0, "rejected": 0, "errors": []}
    again = operator.post("/v1/operators/leeds-bus/taps", json={"taps": taps(card_ref, member_id)})
    assert again.json()["duplicates"] == 2

    balance = wait_for(lambda: (r := points.get(f"/v1/members/{member_id}/balance")).ok
                       and r.json()["available"] > 0 and r.json(), what="points for the journey")
    assert balance == {"member_id": member_id, "available": 10, "pending": 0, "held": 0,
                       "lifetime_earned": 10, "tier": "bronze", "expiring": []}
    history = points.get(f"/v1/members/{member_id}/transactions").json()
    assert [(t["points"], t["source_type"], t["rule_id"]) for t in history["items"]] == \
        [(10, "journey", "journey-by-mode")]

    inbox = wait_for(lambda: notifications.get(f"/v1/members/{member_id}/notifications").json()["items"],
                     what="the inbox item")
    assert len(inbox) == 1
    assert inbox[0]["type"] == "points.earned"
    assert inbox[0]["title"] == "You earned 10 points"


def test_unlinked_cards_earn_nothing_and_denied_taps_never_count(client, member_id):
    operator = client("transit-ingest", "operator:leeds-bus")
    card_ref = f"fs-{uuid.uuid4().hex}"
    denied = [dict(t, outcome="deny") for t in taps(card_ref, member_id)]
    assert operator.post("/v1/operators/leeds-bus/taps", json={"taps": denied}).json()["accepted"] == 2
    assert client("points").get(f"/v1/members/{member_id}/balance").status_code == 404


def test_bad_rows_are_reported_by_index_and_field_while_good_rows_go_through(client, member_id):
    operator = client("transit-ingest", "operator:leeds-bus")
    good, bad_time = taps(f"fs-{uuid.uuid4().hex}", member_id)
    bad_time = dict(bad_time, occurred_at="yesterday")
    bad_mode = dict(good, tap_id=f"{member_id}-x", mode="hovercraft", latitude=91)
    response = operator.post("/v1/operators/leeds-bus/taps", json={"taps": [good, bad_time, bad_mode, 7]})
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 3)
    assert {(e["index"], e["field"]) for e in body["errors"]} == {
        (1, "occurred_at"), (2, "mode"), (2, "latitude"), (3, "_row")}


def test_bad_requests_get_problem_details_naming_the_field(client):
    points = client("points")
    response = points.post("/v1/members", json={"member_id": "has spaces", "extra": 1})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and set(problem["errors"]) == {"member_id", "extra"}
    not_json = points.post("/v1/members", data="{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.headers["Content-Type"] == "application/problem+json"
    assert "Traceback" not in not_json.text


def test_credentials_reach_only_their_own_objects(client):
    body = {"taps": []}
    assert client("transit-ingest", None).post("/v1/operators/leeds-bus/taps", json=body).status_code == 401
    assert client("transit-ingest", "app").post("/v1/operators/leeds-bus/taps", json=body).status_code == 403
    other = client("transit-ingest", "operator:york-bus").post("/v1/operators/leeds-bus/taps", json=body)
    assert other.status_code == 403 and other.headers["Content-Type"] == "application/problem+json"
    forged = client("transit-ingest", None)
    forged.session.headers["Authorization"] = "Bearer not.a.token"
    assert forged.post("/v1/operators/leeds-bus/taps", json=body).status_code == 401


def test_every_service_reports_health_readiness_metrics_and_its_contract(services):
    import requests

    for name, url in services.items():
        assert requests.get(url + "/healthz", timeout=5).json()["status"] == "ok"
        assert requests.get(url + "/readyz", timeout=5).json()["checks"] == {"database": "ok", "kafka": "ok"}
        metrics = requests.get(url + "/metrics", timeout=5)
        assert "rewards_http_requests_total" in metrics.text, name
        assert requests.get(url + "/openapi.json", timeout=5).json()["info"]["title"].startswith("Smart Leeds")


def test_a_revoked_credential_stops_working_everywhere(services, stack_env):
    import os
    import subprocess
    import sys

    import requests

    cli = [os.path.join(os.path.dirname(sys.executable), "rewards")]
    env = {**os.environ, **stack_env}
    token = subprocess.run(cli + ["credentials", "issue", "--role", "operator", "--subject", "leeds-bus"],
                           env=env, check=True, capture_output=True, text=True).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    url = services["transit-ingest"] + "/v1/operators/leeds-bus/taps"
    assert requests.post(url, json={"taps": []}, headers=headers, timeout=10).status_code == 202
    subprocess.run(cli + ["credentials", "revoke", token], env=env, check=True, capture_output=True)
    for base in services.values():
        wait_for(lambda b=base: requests.get(b + "/v1/members/x/balance", headers=headers, timeout=10)
                 .status_code == 401, what=f"revocation to reach {base}")


def test_an_erased_member_s_cards_are_unlinked(client, databases, member_id):
    import sqlalchemy as sa

    from transit_ingest.models import CardLink

    points, transit = client("points"), client("transit-ingest")
    assert points.post("/v1/members", json={"member_id": member_id}).status_code == 201
    assert transit.post("/v1/card-links", json={"member_id": member_id, "operator_id": "leeds-bus",
                                                "card_ref": f"fs-{uuid.uuid4().hex}"}).status_code == 201
    assert points.delete(f"/v1/members/{member_id}").status_code == 204

    def active_links():
        with databases("transit-ingest").transaction() as session:
            return session.execute(sa.select(sa.func.count()).select_from(CardLink).where(
                CardLink.member_id == member_id, CardLink.unlinked_at.is_(None))).scalar()

    wait_for(lambda: active_links() == 0, what="transit-ingest to unlink the erased member's card")


def test_card_references_are_never_written_in_clear(client, stack, stack_env, member_id):
    import psycopg

    from rewards_shared.config import Settings
    from rewards_shared.db import libpq_url

    transit, operator = client("transit-ingest"), client("transit-ingest", "operator:leeds-bus")
    card_ref = f"fs-clear-{uuid.uuid4().hex}"
    assert transit.post("/v1/card-links", json={"member_id": member_id, "operator_id": "leeds-bus",
                                                "card_ref": card_ref}).status_code == 201
    assert operator.post("/v1/operators/leeds-bus/taps", json={"taps": taps(card_ref, member_id)}).ok
    assert transit.delete(f"/v1/card-links/leeds-bus/{card_ref}").status_code == 204
    for log in stack.logs.glob("*.log"):
        assert card_ref not in log.read_text(errors="replace"), log.name
    url = libpq_url(Settings.from_env("transit-ingest", stack_env).database_url)
    with psycopg.connect(url) as connection:
        dump = connection.execute("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM card_links) t").fetchone()[0]
        taps_text = connection.execute("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM taps) t").fetchone()[0]
        outbox_text = connection.execute("SELECT string_agg(convert_from(payload, 'UTF8'), ' ') FROM outbox"
                                         ).fetchone()[0]
    assert card_ref not in (dump or "") + (taps_text or "") + (outbox_text or "")
