"""The redemption saga over HTTP with the real points worker holding, capturing and releasing:
catalogue, request, voucher, the till, cancel, expiry and settlement — and the ledger agreeing."""
import csv
import io
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from redemption.bootstrap import bootstrap
from redemption.jobs import expire_vouchers
from redemption.models import Redemption
from tests.support.polling import wait_for

SERVICES = ["points", "redemption"]


@pytest.fixture
def catalogue(client):
    return client("redemption", "catalogue")


@pytest.fixture
def app(client):
    return client("redemption", "app")


@pytest.fixture
def partner_id(catalogue):
    partner = f"cafe-{uuid.uuid4().hex[:8]}"
    created = catalogue.post("/v1/partners", json={"partner_id": partner, "name": "Kirkgate Café",
                                               "contact_email": "till@kirkgate.example"})
    assert created.status_code == 201, created.text
    return partner


@pytest.fixture
def till(client, partner_id):
    return client("redemption", f"partner:{partner_id}")


def new_reward(catalogue, partner_id, **terms):
    body = {"reward_id": f"r-{uuid.uuid4().hex[:8]}", "partner_id": partner_id, "title": "Flat white",
            "cost_points": 30, "stock": 5, "per_member_limit": 5, "funded_by": "council", "settlement_pence": 250,
            **terms}
    created = catalogue.post("/v1/rewards", json=body)
    assert created.status_code == 201, created.text
    return created.json()["reward_id"]


def give_points(client, member_id, points):
    assert client("points").post("/v1/members", json={"member_id": member_id}).status_code in (200, 201)
    if points:
        adjusted = client("points", "finance").post(
            "/v1/adjustments", json={"member_id": member_id, "points": points, "reason": "test credit"},
            headers={"Idempotency-Key": uuid.uuid4().hex})
        assert adjusted.status_code == 201, adjusted.text


def balance(client, member_id):
    return client("points").get(f"/v1/members/{member_id}/balance").json()


def redeem(app, member_id, reward_id, key=None):
    return app.post("/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id},
                    headers={"Idempotency-Key": key or uuid.uuid4().hex})


def settled(app, redemption_id, wait=15):
    return app.get(f"/v1/redemptions/{redemption_id}", params={"wait": wait}).json()


def issued_voucher(client, app, catalogue, partner_id, member_id, **terms):
    give_points(client, member_id, 100)
    accepted = redeem(app, member_id, new_reward(catalogue, partner_id, **terms))
    assert accepted.status_code == 202, accepted.text
    redemption = settled(app, accepted.json()["redemption_id"])
    assert redemption["status"] == "issued", redemption
    return redemption


def test_a_member_redeems_a_reward_and_the_till_uses_the_voucher_once(client, app, catalogue, till, partner_id,
                                                                      member_id):
    give_points(client, member_id, 100)
    reward_id = new_reward(catalogue, partner_id)
    accepted = redeem(app, member_id, reward_id, key="first-" + member_id)
    assert accepted.status_code == 202 and accepted.json()["status"] == "pending"
    assert accepted.headers["Location"] == f"/v1/redemptions/{accepted.json()['redemption_id']}"
    redemption_id = accepted.json()["redemption_id"]

    redemption = settled(app, redemption_id)
    assert redemption["status"] == "issued" and redemption["cost_points"] == 30
    code = redemption["voucher_code"]
    assert len(code) == 19 and code.count("-") == 3
    issued_at = datetime.fromisoformat(redemption["issued_at"])
    assert datetime.fromisoformat(redemption["expires_at"]) - issued_at == timedelta(days=14)
    assert (balance(client, member_id)["available"], balance(client, member_id)["held"]) == (70, 30)
    staff_view = client("redemption", "support").get(f"/v1/redemptions/{redemption_id}")
    assert staff_view.status_code == 200 and "voucher_code" not in staff_view.json()

    png = app.get(redemption["voucher_qr"]["png"])
    svg = app.get(redemption["voucher_qr"]["svg"])
    assert png.headers["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert svg.headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in svg.content

    stranger = client("redemption", "partner:someone-else")
    for attempt in (stranger.post(f"/v1/pos/vouchers/{code}/validate"),
                    stranger.post(f"/v1/pos/vouchers/{code}/redeem", headers={"Idempotency-Key": "s1"}),
                    till.post("/v1/pos/vouchers/ZZZZ-ZZZZ-ZZZZ-ZZZZ/validate")):
        assert attempt.status_code == 404 and attempt.json()["detail"] == "No such voucher."
    assert till.post("/v1/pos/vouchers/nonsense/validate").json()["errors"].keys() == {"code"}
    valid = till.post(f"/v1/pos/vouchers/{code.lower().replace('-', ' ')}/validate")
    assert valid.status_code == 200 and valid.json()["reward_id"] == reward_id and "member_id" not in valid.json()
    assert till.post(f"/v1/pos/vouchers/{code}/redeem").status_code == 400

    used = till.post(f"/v1/pos/vouchers/{code}/redeem", headers={"Idempotency-Key": "till-1"})
    assert used.status_code == 200 and used.json()["status"] == "redeemed"
    replay = till.post(f"/v1/pos/vouchers/{code}/redeem", headers={"Idempotency-Key": "till-1"})
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    again = till.post(f"/v1/pos/vouchers/{code}/redeem", headers={"Idempotency-Key": "till-2"})
    assert again.status_code == 409 and again.headers["Content-Type"] == "application/problem+json"
    assert till.post(f"/v1/pos/vouchers/{code}/validate").status_code == 409

    wait_for(lambda: balance(client, member_id)["held"] == 0, what="the ledger to capture the hold")
    assert balance(client, member_id)["available"] == 70
    assert app.get(f"/v1/redemptions/{redemption_id}").json()["status"] == "redeemed"
    assert app.post(f"/v1/redemptions/{redemption_id}/cancel").status_code == 409
    again = redeem(app, member_id, reward_id, key="first-" + member_id)
    assert again.status_code == 202 and again.json()["redemption_id"] == redemption_id


def test_without_enough_points_the_redemption_is_rejected_and_the_stock_returns(client, app, catalogue, partner_id,
                                                                                member_id):
    give_points(client, member_id, 20)
    reward_id = new_reward(catalogue, partner_id, stock=1)
    accepted = redeem(app, member_id, reward_id)
    assert accepted.status_code == 202
    redemption = settled(app, accepted.json()["redemption_id"])
    assert redemption["status"] == "rejected" and redemption["reason"].startswith("insufficient_points")
    assert "voucher_code" not in redemption
    assert catalogue.get(f"/v1/rewards/{reward_id}").json()["stock"] == 1
    assert (balance(client, member_id)["available"], balance(client, member_id)["held"]) == (20, 0)


def test_cancelling_gives_the_points_back_and_the_till_refuses_the_voucher(client, app, catalogue, till, partner_id,
                                                                           member_id):
    redemption = issued_voucher(client, app, catalogue, partner_id, member_id)
    cancelled = app.post(f"/v1/redemptions/{redemption['redemption_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert app.post(f"/v1/redemptions/{redemption['redemption_id']}/cancel").status_code == 200
    wait_for(lambda: balance(client, member_id)["held"] == 0, what="the ledger to release the hold")
    assert balance(client, member_id)["available"] == 100
    refused = till.post(f"/v1/pos/vouchers/{redemption['voucher_code']}/redeem", headers={"Idempotency-Key": "c"})
    assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]
    assert app.get(redemption["voucher_qr"]["png"]).status_code == 410


def test_an_unused_voucher_expires_and_the_ledger_releases_its_hold(client, app, catalogue, till, partner_id, member_id,
                                                                    databases, settings_for):
    redemption = issued_voucher(client, app, catalogue, partner_id, member_id, voucher_valid_days=1)
    database = databases("redemption")
    with database.transaction() as session:
        session.execute(sa.update(Redemption).where(Redemption.id == uuid.UUID(redemption["redemption_id"]))
                        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    refused = till.post(f"/v1/pos/vouchers/{redemption['voucher_code']}/validate")
    assert refused.status_code == 410 and refused.json()["status_now"] == "expired"
    assert expire_vouchers(bootstrap(settings_for("redemption"), database=database)) >= 1
    assert app.get(f"/v1/redemptions/{redemption['redemption_id']}").json()["status"] == "expired"
    wait_for(lambda: balance(client, member_id)["held"] == 0, what="the ledger to release the expired hold")
    assert balance(client, member_id)["available"] == 100


def test_the_catalogue_is_validated_and_shown_to_each_caller_as_fits(client, catalogue, app, till, partner_id):
    bad = catalogue.post("/v1/rewards", json={"reward_id": "has space", "partner_id": partner_id, "title": "",
                                          "cost_points": 0, "stock": -1, "funded_by": "nobody"})
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    assert set(bad.json()["errors"]) == {"reward_id", "title", "cost_points", "stock", "funded_by"}
    partner_paid = catalogue.post("/v1/rewards", json={"reward_id": "x1", "partner_id": partner_id, "title": "t",
                                                   "cost_points": 5, "stock": 1, "settlement_pence": 100})
    assert partner_paid.status_code == 422 and set(partner_paid.json()["errors"]) == {"settlement_pence"}
    window = catalogue.post("/v1/rewards", json={"reward_id": "x2", "partner_id": partner_id, "title": "t",
                                             "cost_points": 5, "stock": 1, "valid_from": "2027-01-02T00:00:00Z",
                                             "valid_until": "2027-01-01T00:00:00Z"})
    assert window.status_code == 422 and set(window.json()["errors"]) == {"valid_until"}
    assert catalogue.post("/v1/rewards", json={"reward_id": "x3", "partner_id": "nobody-here", "title": "t",
                                           "cost_points": 5, "stock": 1}).status_code == 404
    assert app.post("/v1/rewards", json={}).status_code == 403
    assert catalogue.post("/v1/partners", json={"partner_id": partner_id, "name": "Someone else"}).status_code == 409

    open_now = new_reward(catalogue, partner_id)
    later = new_reward(catalogue, partner_id, valid_from=(datetime.now(UTC) + timedelta(days=3)).isoformat())
    empty = new_reward(catalogue, partner_id, stock=0)
    listed = {r["reward_id"]: r for r in app.get("/v1/rewards", params={"partner_id": partner_id}).json()["items"]}
    assert set(listed) == {open_now} and "settlement_pence" not in listed[open_now]
    everything = app.get("/v1/rewards", params={"partner_id": partner_id, "available": "false"}).json()["items"]
    reasons = {r["reward_id"]: r["unavailable_reason"] for r in everything}
    assert reasons == {open_now: None, later: "not_yet_open", empty: "out_of_stock"}
    own = till.get("/v1/rewards").json()["items"]
    assert {r["reward_id"] for r in own} == {open_now, later, empty} and own[0]["settlement_pence"] == 250
    assert client("redemption", "partner:other").get(f"/v1/rewards/{open_now}").status_code == 404
    closed = catalogue.request("PATCH", f"/v1/rewards/{later}", json={"active": False})
    assert closed.status_code == 200 and closed.json()["unavailable_reason"] == "withdrawn"
    refused = redeem(app, "m-anyone", later)
    assert refused.status_code == 409 and refused.json()["reason"] == "withdrawn"


def test_only_the_right_credentials_reach_redemptions_and_the_till(client, app, catalogue, till, partner_id, member_id):
    redemption = issued_voucher(client, app, catalogue, partner_id, member_id)
    code = redemption["voucher_code"]
    assert till.get(f"/v1/redemptions/{redemption['redemption_id']}").status_code == 403
    assert till.post("/v1/redemptions", json={}, headers={"Idempotency-Key": "k"}).status_code == 403
    for caller in (app, catalogue, client("redemption", None)):
        assert caller.post(f"/v1/pos/vouchers/{code}/validate").status_code in (401, 403)
    assert redeem(app, member_id, "no-such-reward").status_code == 404
    assert app.post("/v1/redemptions", json={"member_id": member_id}).status_code == 400
    missing = redeem(app, member_id, None)
    assert missing.status_code == 422 and set(missing.json()["errors"]) == {"reward_id"}
    assert app.get("/v1/redemptions/not-a-uuid").status_code == 404
    history = app.get(f"/v1/members/{member_id}/redemptions").json()["items"]
    assert [r["redemption_id"] for r in history] == [redemption["redemption_id"]]


def test_a_long_poll_on_a_redemption_left_pending_returns_after_the_wait(app, catalogue, partner_id, member_id,
                                                                         databases):
    reward_id = new_reward(catalogue, partner_id)
    redemption_id = uuid.uuid4()
    with databases("redemption").transaction() as session:
        session.add(Redemption(id=redemption_id, member_id=member_id, reward_id=reward_id, partner_id=partner_id,
                               reward_title="Flat white", cost_points=30, funded_by="council", settlement_pence=250,
                               voucher_valid_days=14, status="pending"))
    started = time.monotonic()
    answer = app.get(f"/v1/redemptions/{redemption_id}", params={"wait": 1})
    assert answer.status_code == 200 and answer.json()["status"] == "pending"
    assert 0.9 < time.monotonic() - started < 5
    assert app.get(f"/v1/redemptions/{redemption_id}", params={"wait": -1}).status_code == 422


def test_settlement_per_partner_and_period_as_json_and_csv(client, app, catalogue, till, partner_id, member_id):
    redemption = issued_voucher(client, app, catalogue, partner_id, member_id, settlement_pence=275)
    till.post(f"/v1/pos/vouchers/{redemption['voucher_code']}/redeem", headers={"Idempotency-Key": "s"})
    today = datetime.now(UTC).date().isoformat()
    period = {"from": today, "to": today}
    statement = till.get(f"/v1/partners/{partner_id}/settlement", params=period)
    assert statement.status_code == 200, statement.text
    body = statement.json()
    assert (body["redeemed"], body["owed_pence"], body["currency"]) == (1, 275, "GBP")
    assert body["lines"][0]["reward_id"] == redemption["reward_id"]
    finance = client("redemption", "finance")
    assert catalogue.get(f"/v1/partners/{partner_id}/settlement", params=period).status_code == 403
    as_csv = finance.get(f"/v1/partners/{partner_id}/settlement", params=period, headers={"Accept": "text/csv"})
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows[0]["owed_pence"] == "275" and rows[-1]["reward_id"] == "TOTAL"
    assert client("redemption", "partner:other").get(f"/v1/partners/{partner_id}/settlement",
                                                     params=period).status_code == 403
    backwards = finance.get(f"/v1/partners/{partner_id}/settlement", params={"from": today, "to": "2020-01-01"})
    assert backwards.status_code == 422 and set(backwards.json()["errors"]) == {"to"}
    assert finance.get(f"/v1/partners/{partner_id}/settlement", params={"from": "May"}).status_code == 422


def test_finance_gets_the_same_statement_from_the_cli(client, app, catalogue, till, partner_id, member_id, stack_env):
    redemption = issued_voucher(client, app, catalogue, partner_id, member_id, settlement_pence=120)
    till.post(f"/v1/pos/vouchers/{redemption['voucher_code']}/redeem", headers={"Idempotency-Key": "cli"})
    today = datetime.now(UTC).date().isoformat()
    cli = [os.path.join(os.path.dirname(sys.executable), "rewards"), "settlement", "statement", partner_id,
           "--from", today, "--to", today]
    env = {**os.environ, **stack_env}
    printed = subprocess.run(cli + ["--format", "json"], env=env, check=True, capture_output=True, text=True)
    assert json.loads(printed.stdout)["owed_pence"] == 120
    as_csv = subprocess.run(cli, env=env, check=True, capture_output=True, text=True).stdout
    assert as_csv.splitlines()[-1].endswith("TOTAL,,,,1,120")
    unknown = subprocess.run(cli[:3] + ["nobody", "--from", today, "--to", today], env=env, capture_output=True,
                             text=True)
    assert unknown.returncode == 1 and "No partner nobody" in unknown.stderr
