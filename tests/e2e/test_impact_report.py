"""The council's impact report through the real stack: journeys (car baseline and not), volunteering, a
redemption and donations go in over HTTP, and every figure of the report comes out exactly, with cells below
k suppressed. The report is scheme-wide, so this module runs its own broker, database and services."""
from __future__ import annotations

import dataclasses
import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from points import volunteering
from rewards_shared import auth, devstack, geo
from rewards_shared.config import Settings
from rewards_shared.db import drop_database
from rewards_shared.kafka import ensure_topics
from rewards_shared.service import discover, migrate
from tests.support import browser
from tests.support.api import ServiceClient
from tests.support.polling import wait_for

LEEDS = ZoneInfo("Europe/London")
K = 5
CAR_FACTOR, BUS_FACTOR = 0.16725, 0.10385
ORIGIN, BUS_STOP, TRAM_STOP, STATION = (53.7997, -1.5492), (53.8392, -1.4963), (53.8100, -1.5600), (53.7950, -1.5476)


@pytest.fixture(scope="module")
def stack():
    """A stack of its own, beside the suite's (its test slot plus 50), torn down with its data."""
    own = devstack.Stack.for_tests(slot=int(os.environ.get("TEST_SLOT") or 0) + 50)
    own = dataclasses.replace(own, extra_env={"REPORT_MIN_CELL": str(K)})
    devstack.infra_up(own)
    try:
        devstack.ensure_keys(own)
        env = {**own.env(), "LOG_LEVEL": "INFO"}
        for info in discover().values():
            url = Settings.from_env(info.name, env).database_url
            drop_database(url)
            migrate(info, url)
        ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"])
        devstack.services_up(own, env)
        try:
            yield own, env
        finally:
            devstack.services_down(own)
    finally:
        devstack.infra_down(own, remove_data=True)


@pytest.fixture(scope="module")
def client(stack):
    own, env = stack
    key = Path(env["REWARDS_SIGNING_KEY_FILE"]).read_text()
    urls = {name: own.base_url(info) for name, info in discover().items()}
    return lambda service, role="app": ServiceClient(urls[service], auth.issue(key, role)[0])


def journey_day(today: date) -> date:
    """The latest weekday before today: its 08:10 is peak and in the past."""
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def taps(card_ref: str, mode: str, on_at: datetime, start, end) -> list[dict]:
    common = {"card_ref": card_ref, "outcome": "allow", "mode": mode, "route_id": "R1", "direction": "inbound",
              "vehicle_id": "V1"}
    return [{**common, "tap_id": f"{card_ref}-on", "occurred_at": on_at.isoformat(), "type": "on", "stop_id": "A",
             "latitude": start[0], "longitude": start[1]},
            {**common, "tap_id": f"{card_ref}-off", "occurred_at": (on_at + timedelta(minutes=25)).isoformat(),
             "type": "off", "stop_id": "B", "latitude": end[0], "longitude": end[1]}]


def km(a, b) -> float:
    return round(geo.distance_km(a, b), 3)


def travel(client, member_id: str, mode: str, on_at: datetime, end, profile: dict | None) -> None:
    points, transit = client("points"), client("transit-ingest")
    assert points.post("/v1/members", json={"member_id": member_id}).status_code == 201
    if profile is not None:
        assert points.put(f"/v1/members/{member_id}/profile", json=profile).status_code == 200
    card_ref = f"card-{uuid.uuid4().hex}"
    assert transit.post("/v1/card-links", json={"member_id": member_id, "operator_id": "leeds-bus",
                                                "card_ref": card_ref}).status_code == 201
    pushed = client("transit-ingest", "operator:leeds-bus").post(
        "/v1/operators/leeds-bus/taps", json={"taps": taps(card_ref, mode, on_at, ORIGIN, end)})
    assert pushed.json()["accepted"] == 2, pushed.text


def volunteer(client, code_key: str, organiser, opportunity_id: str, member_id: str) -> int:
    app = client("points")
    scanned = datetime.now(UTC) - timedelta(minutes=90)
    code = volunteering.totp(volunteering.code_secret(code_key, opportunity_id), scanned)
    checked_in = app.post("/v1/checkins", json={"member_id": member_id, "opportunity_id": opportunity_id,
                                                "code": code, "action": "in", "scanned_at": scanned.isoformat()})
    assert checked_in.status_code == 201, checked_in.text
    now_code = organiser.get(f"/v1/opportunities/{opportunity_id}/code").json()["code"]
    out = app.post("/v1/checkins", json={"member_id": member_id, "opportunity_id": opportunity_id,
                                         "code": now_code, "action": "out"})
    assert out.status_code == 200 and out.json()["status"] == "confirmed", out.text
    return out.json()["minutes"]


def test_every_figure_of_the_impact_report_from_events_through_the_real_stack(stack, client, tmp_path):
    own, env = stack
    today = datetime.now(LEEDS).date()
    day = journey_day(today)
    at_peak = datetime.combine(day, time(8, 10), tzinfo=LEEDS)
    run = uuid.uuid4().hex[:6]
    drivers = [f"driver-{run}-{n}" for n in range(6)]
    walkers = [f"walker-{run}-{n}" for n in range(3)]
    riders = [f"rider-{run}-{n}" for n in range(5)]
    for member in drivers:
        travel(client, member, "bus", at_peak, BUS_STOP, {"home_area": "ls6", "usual_mode": "car",
                                                          "research_consent": True})
    for member in walkers:
        travel(client, member, "tram", at_peak, TRAM_STOP, {"home_area": "LS7", "usual_mode": "walk",
                                                           "research_consent": True})
    for member in riders:
        travel(client, member, "rail", at_peak, STATION, None)

    organiser = client("points", "organiser:leeds-volunteers")
    opening = {"title": "Woodhouse Moor litter pick", "auto_confirm": True,
               "starts_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
               "ends_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}
    opportunity = organiser.post("/v1/opportunities", json=opening, headers={"Idempotency-Key": run})
    assert opportunity.status_code == 201, opportunity.text
    code_key = Path(env["VOLUNTEERING_CODE_KEY_FILE"]).read_text()
    minutes = [volunteer(client, code_key, organiser, opportunity.json()["opportunity_id"], m) for m in drivers[:5]]

    app, catalogue = client("points"), client("points", "catalogue")
    wait_for(lambda: all(app.get(f"/v1/members/{m}/balance").json()["available"] >= 10 for m in drivers + riders),
             timeout=90, what="points for every journey")
    assert catalogue.post("/v1/community-groups", json={"group_id": f"food-bank-{run}", "name": "Food bank"}) \
        .status_code == 201
    for member in riders:
        donated = app.post("/v1/donations", json={"member_id": member, "group_id": f"food-bank-{run}", "points": 5},
                           headers={"Idempotency-Key": f"{run}-{member}"})
        assert donated.status_code == 201, donated.text

    shop = client("redemption", "catalogue")
    assert shop.post("/v1/partners", json={"partner_id": "kirkgate-cafe", "name": "Kirkgate Café"}).status_code == 201
    reward = {"reward_id": "flat-white", "partner_id": "kirkgate-cafe", "title": "Flat white", "cost_points": 10,
              "stock": 5, "funded_by": "council", "settlement_pence": 250}
    assert shop.post("/v1/rewards", json=reward).status_code == 201
    requested = client("redemption").post("/v1/redemptions", json={"member_id": drivers[0], "reward_id": "flat-white"},
                                          headers={"Idempotency-Key": run})
    issued = wait_for(lambda: (r := client("redemption").get(f"/v1/redemptions/{requested.json()['redemption_id']}",
                                                             params={"wait": 5}).json())["status"] == "issued" and r,
                      what="the voucher")
    till = client("redemption", "partner:kirkgate-cafe")
    assert till.post(f"/v1/pos/vouchers/{issued['voucher_code']}/redeem",
                     headers={"Idempotency-Key": run}).status_code == 200

    everyone = drivers + walkers + riders
    balances = wait_for(lambda: (b := [app.get(f"/v1/members/{m}/balance").json() for m in everyone])
                        and b[0]["held"] == 0 and b[0]["available"] == b[0]["lifetime_earned"] - 10 and b,
                        timeout=60, what="the redemption captured")
    issued_points = sum(b["lifetime_earned"] for b in balances)
    outstanding = sum(b["available"] + b["held"] for b in balances)
    bus_km, tram_km, rail_km = km(ORIGIN, BUS_STOP), km(ORIGIN, TRAM_STOP), km(ORIGIN, STATION)
    co2e = round(6 * bus_km * (CAR_FACTOR - BUS_FACTOR), 3)
    months = sorted({f"{day:%Y-%m}", f"{today:%Y-%m}"})
    expected = {
        "from": day.isoformat(), "to": today.isoformat(),
        "members": {"registered": 14, "registered_in_period": 14, "active": 14, "retention": {
            "rate": None, "by_month": [{"month": months[0], "active": 0, "retained": 0, "rate": None}]
            if len(months) == 2 else []}},
        "journeys": {"count": 14, "km": round(6 * bus_km + 3 * tram_km + 5 * rail_km, 3), "km_unknown": 0,
                     "members": 14, "by_mode": {
                         "bus": {"count": 6, "km": round(6 * bus_km, 3), "co2e_avoided_kg": co2e, "members": 6},
                         "rail": {"count": None, "km": None, "co2e_avoided_kg": None, "members": None},
                         "tram": {"count": None, "km": None, "co2e_avoided_kg": None, "members": None}},
                     "peak": {"count": 14, "km": round(6 * bus_km + 3 * tram_km + 5 * rail_km, 3), "members": 14},
                     "off_peak": {"count": 0, "km": 0.0, "members": 0}},
        "co2e_avoided_kg": co2e,
        "volunteering": {"attendances": 5, "hours": round(sum(minutes) / 60, 2), "members": 5},
        "points": {"issued": issued_points, "redeemed": None, "expired": 0, "donated": 25, "reversed": 0,
                   "adjusted": 0, "withdrawn": 0, "outstanding": outstanding},
        "redemptions": {"count": None, "members": None,
                        "by_partner": {"kirkgate-cafe": {"count": None, "members": None, "owed_gbp": None}}},
        "cost": {"owed_to_partners_gbp": None, "per_active_member_gbp": None, "per_tonne_co2e_gbp": None},
        "groups": [{"group_id": f"food-bank-{run}", "donated": 25, "donors": 5}],
    }
    analyst = client("impact", "analyst")
    path = f"/v1/reports/impact?from={day}&to={today}"

    def settled():
        report = analyst.get(path).json()
        return {k: report.get(k) for k in expected} == expected and report

    report = wait_for(settled, timeout=90, interval=0.5, what="the report to count every event")
    assert report["method"]["factor_set"] == "DESNZ 2025" and report["method"]["min_cell"] == K
    assert {s["cell"] for s in report["suppressed"]} == {
        "journeys.by_mode.tram", "journeys.by_mode.rail", "points.redeemed", "redemptions",
        "redemptions.by_partner.kirkgate-cafe", "cost.owed_to_partners_gbp", "cost.per_active_member_gbp",
        "cost.per_tonne_co2e_gbp"}

    by_area = analyst.get(path + "&group_by=area").json()["breakdown"]["rows"]
    assert [(r["key"], r["journeys"]["journeys"], r["registered"]["members"]) for r in by_area] == \
        [("LS6", 6, 6), ("LS7", None, None)]
    table = analyst.get(path, headers={"Accept": "text/csv"}).text.splitlines()
    assert "journeys.by_mode.bus.count,6," in table and "journeys.by_mode.tram.count,,fewer than 5 members" in table
    for role in ("app", "operator:leeds-bus", "partner:kirkgate-cafe", "organiser:leeds-volunteers"):
        assert client("impact", role).get(path).status_code == 403, role

    page = tmp_path / "impact-report.html"
    page.write_text(analyst.get(f"/v1/reports/impact.html?from={day}&to={today}").text)
    shot = browser.screenshot(page, tmp_path / "impact-report.png")
    colours = {colour for _, colour in Image.open(shot).convert("RGB").getcolors(maxcolors=2_000_000)}
    for chart, rgb in (("journeys by week", (0x00, 0x59, 0x4f)), ("CO2e by week", (0x5b, 0x7f, 0x95)),
                       ("mode split", (0xf2, 0xa9, 0x00)), ("active members", (0x7a, 0x4b, 0x94)),
                       ("areas", (0x3a, 0x7d, 0x44))):
        assert rgb in colours, f"the {chart} chart drew no bars"
    assert 'class="bar suppressed"' in page.read_text()
    pdf = browser.print_to_pdf(page, tmp_path / "impact-report.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
