"""What an on-call person relies on, against the running stack: one trace from pushed taps through
points to notifications in the logs, and every metric the dashboard and alert rules name exported."""
import json
import re
import secrets
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from rewards_shared.config import REPO_ROOT
from rewards_shared.service import discover
from tests.e2e.test_journey_earns_points import taps
from tests.support.polling import wait_for

OBSERVABILITY = REPO_ROOT / "deploy" / "observability"


def log_lines(logs: Path, service: str) -> list[dict]:
    """The JSON lines of every process of the service (web and workers)."""
    lines = []
    for path in sorted(logs.glob(f"{service}-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
    return lines


def carries(line: dict, trace_id: str) -> bool:
    return line.get("trace_id") == trace_id or trace_id in (line.get("trace_ids") or ())


def test_one_trace_runs_from_pushed_taps_through_points_to_notifications(client, stack, member_id):
    points, transit, notifications = client("points"), client("transit-ingest"), client("notifications")
    operator = client("transit-ingest", "operator:leeds-bus")
    card_ref = f"fs-{uuid.uuid4().hex}"
    assert points.post("/v1/members", json={"member_id": member_id}).status_code == 201
    assert transit.post("/v1/card-links", json={"member_id": member_id, "operator_id": "leeds-bus",
                                                "card_ref": card_ref}).status_code == 201
    trace_id = secrets.token_hex(16)
    pushed = operator.post("/v1/operators/leeds-bus/taps", json={"taps": taps(card_ref, member_id)},
                           headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    assert pushed.status_code == 202, pushed.text
    wait_for(lambda: notifications.get(f"/v1/members/{member_id}/notifications").json()["items"],
             what="the inbox item")

    found = wait_for(lambda: (seen := {service: [line for line in log_lines(stack.logs, service)
                                                 if carries(line, trace_id)]
                                       for service in ("transit-ingest", "points", "notifications")})
                     and all(seen.values()) and seen, timeout=30, what=f"trace {trace_id} in every service's log")
    assert any(line.get("msg") == "request" and line.get("path") == "/v1/operators/leeds-bus/taps"
               for line in found["transit-ingest"])
    assert any(line.get("consumer") == "points" for line in found["points"])
    assert any(line.get("consumer") == "notifications" for line in found["notifications"])
    assert card_ref not in json.dumps(found)


def referenced_metrics() -> set[str]:
    """Every `rewards_…` series named in the dashboard's queries and the alert rules' expressions."""
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    rules = yaml.safe_load((OBSERVABILITY / "prometheus-rules.yaml").read_text())
    expressions += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert expressions, "the dashboard and rules have queries"
    return {name for expression in expressions for name in re.findall(r"\brewards_[a-z0-9_]+", expression)}


def exported(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def test_every_metric_the_dashboard_and_alerts_name_is_exported(client, stack, member_id):
    operator = client("transit-ingest", "operator:leeds-bus")
    card_ref = f"fs-{uuid.uuid4().hex}"
    assert operator.post("/v1/operators/leeds-bus/taps", json={"taps": taps(card_ref, member_id)}).status_code == 202
    infos = list(discover().values())
    webs = [stack.base_url(info) + "/metrics" for info in infos]
    workers = [f"http://127.0.0.1:{stack.worker_metrics_port(index)}/metrics" for index in range(len(infos))]
    wanted = referenced_metrics()

    seen: dict[str, set[str]] = {}

    def complete() -> bool:
        names = set().union(*(exported(requests.get(url, timeout=5).text) for url in webs + workers))
        seen["gaps"] = {name for name in wanted if not ({name, name.removesuffix("_total")} & names)}
        return not seen["gaps"]

    try:
        wait_for(complete, timeout=60, interval=1, what="every metric the dashboard and rules name")
    except pytest.fail.Exception:
        raise AssertionError(f"named but not exported: {sorted(seen['gaps'])}") from None
    assert {"rewards_consumer_lag_messages", "rewards_outbox_oldest_pending_seconds", "rewards_dead_letters_total",
            "rewards_event_handle_seconds_bucket", "rewards_feed_rows_total", "rewards_redemptions_finished_total",
            "rewards_http_requests_total", "rewards_outbox_rows"} <= wanted
