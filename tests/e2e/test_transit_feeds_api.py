"""Operators and their files over HTTP, with the worker processing uploads in the background."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.support.polling import wait_for
from transit_ingest.formats import LITTLEPAY_V3
from transit_ingest.models import Journey

SERVICES = ("transit-ingest",)


@pytest.fixture
def operator_id(client) -> str:
    operator_id = f"bus-{uuid.uuid4().hex[:8]}"
    created = client("transit-ingest", "admin").post("/v1/operators", json={
        "operator_id": operator_id, "name": "Test buses", "default_mode": "bus"})
    assert created.status_code == 201, created.text
    return operator_id


def psv(operator_id: str, rows: list[dict]) -> bytes:
    lines = ["|".join(LITTLEPAY_V3)]
    for row in rows:
        values = {"participant_id": operator_id, "mode": "bus", "transaction_outcome": "allow", **row}
        lines.append("|".join(values.get(column, "") for column in LITTLEPAY_V3))
    return ("\n".join(lines) + "\n").encode()


def finished(operator, path: str) -> dict:
    return wait_for(lambda: (body := operator.get(path).json())["status"] in ("done", "failed") and body,
                    timeout=30, what=f"{path} to finish")


def test_the_registry_is_for_admins_and_each_operator_sees_only_itself(client, operator_id):
    admin = client("transit-ingest", "admin")
    again = admin.post("/v1/operators", json={"operator_id": operator_id, "name": "Again"})
    assert again.status_code == 409 and again.headers["Content-Type"] == "application/problem+json"
    invalid = admin.post("/v1/operators", json={"operator_id": "x y", "name": "", "default_mode": "blimp"})
    assert invalid.status_code == 422 and set(invalid.json()["errors"]) == {"operator_id", "name", "default_mode"}
    assert operator_id in {o["operator_id"] for o in admin.get("/v1/operators").json()["items"]}

    own = client("transit-ingest", f"operator:{operator_id}")
    assert own.get(f"/v1/operators/{operator_id}").json()["card_ref_field"] == "funding_source_id"
    assert own.get("/v1/operators").status_code == 403
    assert own.request("PATCH", f"/v1/operators/{operator_id}", json={"active": False}).status_code == 403
    assert client("transit-ingest", "operator:someone-else").get(f"/v1/operators/{operator_id}").status_code == 403
    assert admin.get("/v1/operators/nobody").status_code == 404

    timeout = admin.request("PATCH", f"/v1/operators/{operator_id}", json={"pairing_timeout_minutes": 120})
    assert timeout.status_code == 200 and timeout.json()["pairing_timeout_minutes"] == 120


def test_an_uploaded_file_becomes_the_members_journeys_with_a_rejection_report(client, operator_id, member_id,
                                                                                databases):
    operator = client("transit-ingest", f"operator:{operator_id}")
    card = f"fs-{uuid.uuid4().hex}"
    linked = client("transit-ingest").post("/v1/card-links", json={
        "member_id": member_id, "operator_id": operator_id, "card_ref": card})
    assert linked.status_code == 201, linked.text
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    at = [(t0 + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.000Z") for m in (0, 25, 90)]
    body = psv(operator_id, [
        {"littlepay_transaction_id": "f-1", "funding_source_id": card, "type": "on",
         "transaction_timestamp_utc": at[0], "location_id": "S1"},
        {"littlepay_transaction_id": "f-2", "funding_source_id": card, "type": "off",
         "transaction_timestamp_utc": at[1], "location_id": "S2"},
        {"littlepay_transaction_id": "f-3", "funding_source_id": card, "type": "single",
         "transaction_timestamp_utc": "not a time"},
        {"littlepay_transaction_id": "f-4", "funding_source_id": card, "type": "single",
         "transaction_timestamp_utc": at[2], "transaction_outcome": "deny"},
    ])
    uploaded = operator.post(f"/v1/operators/{operator_id}/feeds?format=littlepay-v3&filename=taps.psv", data=body,
                             headers={"Content-Type": "application/octet-stream"})
    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.json()["size_bytes"] == len(body)
    path = f"/v1/operators/{operator_id}/feeds/{uploaded.json()['feed_id']}"

    feed = finished(operator, path)
    assert {k: feed[k] for k in ("status", "rows", "accepted", "duplicates", "rejected", "progress")} == \
        {"status": "done", "rows": 4, "accepted": 3, "duplicates": 0, "rejected": 1, "progress": 1.0}
    assert feed["errors"] == [{"line": 4, "field": "transaction_timestamp_utc",
                               "message": "Not an ISO 8601 timestamp (e.g. 2025-10-24T07:41:12.000Z)."}]
    report = operator.get(feed["report_url"])
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(report.text)))[1][:2] == ["4", "transaction_timestamp_utc"]
    assert [f["feed_id"] for f in operator.get(f"/v1/operators/{operator_id}/feeds").json()["items"]] == \
        [feed["feed_id"]]

    with databases("transit-ingest").transaction() as session:
        found = session.execute(sa.select(Journey.kind, Journey.member_id)
                                .where(Journey.operator_id == operator_id)).all()
    assert found == [("paired", member_id)]

    other = client("transit-ingest", "operator:someone-else")
    assert other.get(path).status_code == 403
    assert other.get(f"/v1/operators/someone-else/feeds/{feed['feed_id']}").status_code == 404
    assert other.get(feed["report_url"]).status_code == 403


def test_a_file_not_in_the_format_fails_with_its_reason_never_a_500(client, operator_id):
    operator = client("transit-ingest", f"operator:{operator_id}")
    for body, reason in [(b"", "empty"), (b"\x00\x01\x02binary\xff", "binary"),
                         (b"transaction_id,service_date\n1,2\n", "pipe-separated")]:
        uploaded = operator.post(f"/v1/operators/{operator_id}/feeds?format=littlepay-v3", data=body)
        assert uploaded.status_code == 202, uploaded.text
        feed = finished(operator, f"/v1/operators/{operator_id}/feeds/{uploaded.json()['feed_id']}")
        assert feed["status"] == "failed" and reason in feed["reason"], feed
    unknown = operator.post(f"/v1/operators/{operator_id}/feeds?format=csv", data=b"x")
    assert unknown.status_code == 422 and "format" in unknown.json()["errors"]


def test_unregistered_operators_and_oversized_batches_are_refused(client, operator_id):
    stranger = client("transit-ingest", "operator:not-registered")
    refused = stranger.post("/v1/operators/not-registered/taps", json={"taps": []})
    assert refused.status_code == 404 and refused.headers["Content-Type"] == "application/problem+json"
    assert stranger.post("/v1/operators/not-registered/feeds?format=tides", data=b"x").status_code == 404

    operator = client("transit-ingest", f"operator:{operator_id}")
    tap = {"tap_id": "t", "card_ref": "c", "occurred_at": "2026-01-01T00:00:00Z", "type": "single", "mode": "bus"}
    too_many = operator.post(f"/v1/operators/{operator_id}/taps", json={"taps": [tap] * 10_001})
    assert too_many.status_code == 413 and too_many.json()["errors"] == {"taps": ["10001 taps sent"]}


def test_admins_load_gtfs_stops_for_distances(client, operator_id):
    admin = client("transit-ingest", "admin")
    stops = b"stop_id,stop_name,stop_lat,stop_lon\nS1,Headrow,53.7997,-1.5492\nS2,Roundhay,53.8392,-1.4963\n"
    loaded = admin.put(f"/v1/operators/{operator_id}/stops", data=stops)
    assert loaded.status_code == 200 and loaded.json() == {"stops": 2, "skipped": 0, "rejected": 0, "errors": []}
    wrong = admin.put(f"/v1/operators/{operator_id}/stops", data=b"id,lat\n1,2\n")
    assert wrong.status_code == 422 and "stop_lat" in wrong.json()["detail"]
    assert client("transit-ingest", f"operator:{operator_id}").put(
        f"/v1/operators/{operator_id}/stops", data=stops).status_code == 403


def test_a_file_larger_than_any_json_request_streams_through(client, operator_id, tmp_path):
    from transit_ingest.samples import write_littlepay

    path = write_littlepay(tmp_path / "big.psv", 90_000, participant=operator_id, prefix=operator_id)
    assert path.stat().st_size > 16 * 1024 * 1024
    operator = client("transit-ingest", f"operator:{operator_id}")
    with path.open("rb") as body:
        uploaded = operator.post(f"/v1/operators/{operator_id}/feeds?format=littlepay-v3", data=body, timeout=120)
    assert uploaded.status_code == 202, uploaded.text
    feed = wait_for(lambda: (b := operator.get(f"/v1/operators/{operator_id}/feeds/{uploaded.json()['feed_id']}")
                             .json())["status"] in ("done", "failed") and b, timeout=90, interval=0.5,
                    what="the big file")
    assert (feed["status"], feed["rows"], feed["accepted"], feed["rejected"]) == ("done", 90_000, 90_000, 0)


def test_an_upload_cut_off_before_its_length_has_arrived_stores_nothing(client, operator_id, issue_token):
    import socket
    from urllib.parse import urlsplit

    operator = client("transit-ingest", f"operator:{operator_id}")
    body = psv(operator_id, [{"littlepay_transaction_id": f"cut-{n}", "funding_source_id": "fs-cut", "type": "on",
                              "transaction_timestamp_utc": "2026-11-24T07:41:12.000Z"} for n in range(50)])
    where = urlsplit(operator.base_url)
    head = (f"POST /v1/operators/{operator_id}/feeds?format=littlepay-v3 HTTP/1.1\r\nHost: {where.netloc}\r\n"
            f"Authorization: Bearer {issue_token(f'operator:{operator_id}')}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(head.encode() + body[:len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"400", answer[:500]
    assert b"application/problem+json" in rest and b"nothing was stored" in rest, rest
    assert operator.get(f"/v1/operators/{operator_id}/feeds").json()["items"] == []
    whole = operator.post(f"/v1/operators/{operator_id}/feeds?format=littlepay-v3", data=body)
    assert whole.status_code == 202 and whole.json()["size_bytes"] == len(body)
