"""Subject access: `rewards members export ID` and the export endpoint gather what every service holds
about a member into one JSON document, each service answering over Kafka."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.api import ServiceClient
from tests.support.polling import wait_for
from tests.support.scheme import Scheme


@pytest.fixture
def scheme(client, stack_env) -> Scheme:
    return Scheme(client, Path(stack_env["VOLUNTEERING_CODE_KEY_FILE"]).read_text())


def test_the_export_holds_every_kind_of_data_from_every_service(client, services, scheme, stack_env, tmp_path):
    tenants = scheme.tenants()
    member = scheme.member(tenants)
    member_id = member.member_id
    assert client("points").put(f"/v1/members/{member_id}/profile", json={
        "home_area": "LS6", "usual_mode": "car", "research_consent": True}).status_code == 200
    impact_ready = wait_for(lambda: client("impact", "analyst").get(f"/v1/journeys/{member.journey_id}/impact").ok,
                            timeout=60, what="the impact service to count the journey")
    assert impact_ready

    out = tmp_path / "export.json"
    cli = [os.path.join(os.path.dirname(sys.executable), "rewards"), "members", "export", member_id, "--out", str(out)]
    subprocess.run(cli, env={**os.environ, **stack_env}, check=True, capture_output=True, text=True, timeout=180)
    document = json.loads(out.read_text())
    assert document["member_id"] == member_id
    parts = document["services"]
    assert set(parts) == {"points", "transit-ingest", "redemption", "notifications", "impact"}

    points = parts["points"]
    assert points["member"]["member_id"] == member_id
    assert points["research_profile"] == {**points["research_profile"], "home_area": "LS6", "usual_mode": "car",
                                          "research_consent": True}
    assert points["balance"]["available"] > 0 and points["balance"]["held"] == 10
    assert {"adjust", "earn", "hold"} <= {t["code"] for t in points["transactions"]}
    assert [a["attendance_id"] for a in points["attendances"]] == [member.attendance_id]

    transit = parts["transit-ingest"]
    assert [(link["operator_id"], link["card_hint"]) for link in transit["card_links"]] == \
        [(tenants.operator_id, "…" + member.card_ref[-4:])]
    assert [j["id"] for j in transit["journeys"]] == [member.journey_id]
    assert sorted(t["tap_id"] for t in transit["taps"]) == sorted(member.extra["tap_ids"])

    redemptions = parts["redemption"]["redemptions"]
    assert [(r["redemption_id"], r["status"]) for r in redemptions] == [(member.redemption_id, "issued")]

    notifications = parts["notifications"]
    assert notifications["contacts"] == {**notifications["contacts"], "email": member.email, "phone": member.phone,
                                         "push_tokens": [member.push_token]}
    assert notifications["preferences"]["locale"] == "en-GB"
    assert member.notification_id in {item["id"] for item in notifications["inbox"]}
    assert "deliveries" in notifications  # none under the test stack: no channel is configured

    impact = parts["impact"]
    assert impact["linked"] and impact["research_profile"]["home_area"] == "LS6"
    assert [j["journey_id"] for j in impact["journeys"]] == [member.journey_id]
    assert impact["movements"], "the points the ledger reported"

    text = out.read_text()
    assert member.card_ref not in text, "card references are never kept in clear, so never exported"
    assert member.voucher_code not in text, "a voucher code is a bearer secret, shown only in the app"

    as_member = ServiceClient(services["points"], scheme.member_token(member_id))
    started = as_member.post(f"/v1/members/{member_id}/exports")
    assert started.status_code == 202 and started.headers["Location"] == f"/v1/exports/{started.json()['export_id']}"
    done = wait_for(lambda: (e := as_member.get(started.headers["Location"]).json())["status"] == "done" and e,
                    timeout=60, what="the export the member asked for")
    assert set(done["services"].values()) == {"answered"}
    assert done["document"]["services"]["notifications"]["contacts"]["email"] == member.email
    stranger = ServiceClient(services["points"], scheme.member_token(scheme.register(points=0).member_id))
    assert stranger.get(started.headers["Location"]).status_code == 404
    assert stranger.post(f"/v1/members/{member_id}/exports").status_code == 404
    assert client("points", "analyst").post(f"/v1/members/{member_id}/exports").status_code == 403
    assert client("points", "support").get(f"/v1/exports/{uuid.uuid4()}").status_code == 404
