"""The impact service's facts and report against a real PostgreSQL database of its own: every figure exact,
suppression at k, consent, erasure, factor sets. (The whole pipeline through Kafka is in tests/e2e.)"""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from impact import SERVICE, factors, services
from impact.bootstrap import bootstrap, worker_spec
from impact.models import Erased, Journey, Link, Member
from rewards_shared.config import Settings
from rewards_shared.db import Database, drop_database
from rewards_shared.errors import Conflict
from rewards_shared.events import Event
from rewards_shared.service import migrate

DAY = date(2025, 3, 3)  # a Monday
AT = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def rt(infra):
    """A fresh impact database per test: the report is scheme-wide, so each test owns all of it."""
    url = sa.engine.make_url(infra.server_url).set(database=f"test_impact_{uuid.uuid4().hex[:8]}") \
        .render_as_string(False)
    migrate(SERVICE, url)
    settings = Settings.from_env("impact", {"DATABASE_URL": url, "IMPACT_PSEUDONYM_KEY": "k" * 32,
                                            "REPORT_MIN_CELL": "5", "IMPACT_DATABASE_URL": url})
    runtime = bootstrap(settings, database=Database(url))
    yield runtime
    runtime.database.dispose()
    drop_database(url)


class Driver:
    """Feeds events to the impact handlers in consumer-style transactions."""

    def __init__(self, rt):
        self.rt = rt
        self.handlers = worker_spec(rt).handlers

    def send(self, event_type: str, member_id: str, at: datetime = AT, **data) -> Event:
        event = Event.create(event_type, "test", member_id, {"member_id": member_id, **data}, time=at)
        handler = self.handlers.get(event_type)  # as the consumer loop does, types without one are ignored
        if handler is not None:
            with self.rt.database.transaction() as session:
                handler(session, event)
        return event

    def journey(self, member_id: str, mode: str, km: float | None, started: datetime = AT, journey_id=None,
                revision: int = 1, event_type: str = "transit.journey.completed") -> str:
        journey_id = journey_id or f"j-{uuid.uuid4().hex[:10]}"
        self.send(event_type, member_id, journey_id=journey_id, operator_id="op", kind="paired", mode=mode,
                  started_at=started.isoformat(), distance_km=km, revision=revision)
        return journey_id

    def member(self, member_id: str, *, area: str | None = None, mode: str | None = None, consent: bool = True,
               at: datetime = AT) -> str:
        self.send("member.registered", member_id, at=at, registered_at=at.isoformat())
        self.send("member.profile_updated", member_id, at=at, home_area=area, usual_mode=mode,
                  research_consent=consent)
        return member_id

    def earn(self, member_id: str, points: int, at: datetime = AT) -> None:
        self.send("points.earned", member_id, at=at, points=points, transfer_id=str(uuid.uuid4()))


@pytest.fixture
def drive(rt):
    return Driver(rt)


def ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n}" for n in range(count)]


def test_a_journey_by_a_car_driver_avoids_the_car_emissions_less_the_modes(rt, drive):
    drive.member("alice", area="LS6", mode="car")
    journey_id = drive.journey("alice", "bus", 10.0)
    shown = services.journey_impact(rt, journey_id)
    assert shown == {"journey_id": journey_id, "mode": "bus", "km": 10.0, "baseline_mode": "car",
                     "factor_set": "DESNZ 2025", "mode_factor_kg_per_km": 0.10385, "car_factor_kg_per_km": 0.16725,
                     "co2e_avoided_kg": pytest.approx(0.634), "method": factors.METHOD}


def test_withdrawing_consent_takes_the_member_out_of_co2e_and_areas(rt, drive):
    drive.member("bob", area="LS6", mode="car")
    journey_id = drive.journey("bob", "tram", 5.0)
    assert services.journey_impact(rt, journey_id)["co2e_avoided_kg"] == pytest.approx(5 * (0.16725 - 0.0286))
    drive.send("member.profile_updated", "bob", home_area="LS6", usual_mode="car", research_consent=False)
    assert services.journey_impact(rt, journey_id)["co2e_avoided_kg"] == 0
    with rt.database.transaction() as session:
        member = session.execute(sa.select(Member)).scalar_one()
    assert (member.home_area, member.usual_mode, member.research_consent) == (None, None, False)


def test_no_member_id_is_stored_and_erasure_cuts_the_link_for_good(rt, drive):
    drive.member("carol-secret-id", area="LS2", mode="car")
    drive.journey("carol-secret-id", "bus", 3.0)
    drive.send("member.erased", "carol-secret-id", withdrawn_points=0)
    late = drive.journey("carol-secret-id", "bus", 4.0)
    with rt.database.engine.connect() as connection:
        dump = "\n".join(str(row) for table in ("links", "erased", "members", "journeys", "movements")
                         for row in connection.execute(sa.text(f"SELECT * FROM {table}")))
    assert "carol-secret-id" not in dump
    with rt.database.transaction() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Link)).scalar() == 0
        assert session.execute(sa.select(sa.func.count()).select_from(Erased)).scalar() == 1
        journeys = session.execute(sa.select(Journey.journey_id)).scalars().all()
        assert late not in journeys and len(journeys) == 1  # the counts already made stay; nothing new is tied


def test_a_corrected_journey_replaces_the_earlier_revision_and_a_stale_one_changes_nothing(rt, drive):
    drive.member("dan", mode="car")
    journey_id = drive.journey("dan", "bus", 2.0)
    drive.journey("dan", "rail", 8.0, journey_id=journey_id, revision=3, event_type="transit.journey.corrected")
    drive.journey("dan", "bus", 1.0, journey_id=journey_id, revision=2, event_type="transit.journey.corrected")
    assert services.journey_impact(rt, journey_id)["mode"] == "rail"
    assert services.journey_impact(rt, journey_id)["km"] == 8.0
    drive.send("transit.journey.voided", "dan", journey_id=journey_id, operator_id="op", reason="refund",
               revision=4)
    report = services.report(rt, DAY, DAY)
    assert report["journeys"]["count"] == 0


def test_a_newer_factor_set_applies_to_its_year_and_the_old_one_stays(rt, drive):
    newer = factors.shipped_text().replace("0.10385", "0.09000")
    assert services.load_factors(rt, newer, version="2026", source="desnz-2026.csv") is True
    assert services.load_factors(rt, newer, version="2026", source="again.csv") is False
    with pytest.raises(Conflict):
        services.load_factors(rt, factors.shipped_text(), version="2026", source="other.csv")
    drive.member("erin", mode="car")
    old = drive.journey("erin", "bus", 10.0, started=datetime(2025, 12, 31, 12, tzinfo=UTC))
    new = drive.journey("erin", "bus", 10.0, started=datetime(2026, 1, 2, 12, tzinfo=UTC))
    assert services.journey_impact(rt, old)["factor_set"] == "DESNZ 2025"
    assert services.journey_impact(rt, new)["factor_set"] == "DESNZ 2026"
    assert services.journey_impact(rt, new)["co2e_avoided_kg"] == pytest.approx(10 * (0.16725 - 0.09))
    assert [s["version"] for s in services.factor_sets(rt)] == ["2025", "2026"]


def test_every_figure_of_the_report_and_suppression_at_k(rt, drive):
    """k = 5. Six car drivers in LS6 ride the bus at peak; three walkers in LS7 ride the tram (hidden: fewer than
    5), five members without consent take rail with no known distance (5 is enough, but rail is then the
    smallest other mode, hidden so the tram cannot be recovered from the total); two volunteers and one
    redemption (hidden); five donors (published)."""
    bus_riders = [drive.member(m, area="LS6", mode="car") for m in ids("bus", 6)]
    tram_riders = [drive.member(m, area="LS7", mode="walk") for m in ids("tram", 3)]
    rail_riders = [drive.member(m, consent=False) for m in ids("rail", 5)]
    morning = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # 08:00 in Leeds (GMT), peak
    for member in bus_riders:
        drive.journey(member, "bus", 10.0, started=morning)
        drive.journey(member, "bus", 5.0, started=morning + timedelta(hours=8, minutes=30))  # 16:30, peak
        drive.earn(member, 20)
    for member in tram_riders:
        drive.journey(member, "tram", 4.0, started=morning + timedelta(hours=4))
        drive.earn(member, 10)
    for member in rail_riders:
        drive.journey(member, "rail", None, started=morning + timedelta(hours=4))
        drive.earn(member, 15)
        drive.send("points.donated", member, points=5, source_type="community_group", source_id="food-bank")
    for member in ids("bus", 2):
        drive.send("volunteering.attendance.confirmed", member, attendance_id=f"att-{member}", opportunity_id="o",
                   organiser_id="org", checked_in_at=AT.isoformat(),
                   checked_out_at=(AT + timedelta(hours=2)).isoformat(), minutes=90)
    drive.send("points.captured", "bus-0", points=15, redemption_id="r1")
    drive.send("redemption.completed", "bus-0", redemption_id="r1", reward_id="coffee", partner_id="cafe",
               cost_points=15, funded_by="council", settlement_pence=250)
    drive.send("points.pending", "tram-0", points=50)  # not yet the member's: counts nowhere

    report = services.report(rt, DAY, DAY + timedelta(days=6), group_by="mode")

    co2e_bus = 6 * 15 * (0.16725 - 0.10385)
    issued = 6 * 20 + 3 * 10 + 5 * 15
    assert report["from"] == "2025-03-03" and report["to"] == "2025-03-09"
    assert report["method"]["factor_set"] == "DESNZ 2025" and report["method"]["min_cell"] == 5
    assert report["members"] == {"registered": 14, "registered_in_period": 14, "active": 14,
                                 "retention": {"rate": None, "by_month": []}}
    journeys = report["journeys"]
    assert (journeys["count"], journeys["km"], journeys["km_unknown"], journeys["members"]) == (20, 102.0, 5, 14)
    assert journeys["by_mode"] == {
        "bus": {"count": 12, "km": 90.0, "co2e_avoided_kg": pytest.approx(co2e_bus, abs=1e-3), "members": 6},
        "rail": {"count": None, "km": None, "co2e_avoided_kg": None, "members": None},
        "tram": {"count": None, "km": None, "co2e_avoided_kg": None, "members": None}}
    assert journeys["peak"] == {"count": 12, "km": 90.0, "members": 6}
    assert journeys["off_peak"] == {"count": 8, "km": 12.0, "members": 8}
    assert report["co2e_avoided_kg"] == pytest.approx(co2e_bus, abs=1e-3)
    assert report["volunteering"] == {"attendances": None, "hours": None, "members": None}
    assert report["points"] == {"issued": issued, "redeemed": None, "expired": 0, "donated": 25, "reversed": 0,
                                "adjusted": 0, "withdrawn": 0, "outstanding": issued - 15 - 25}
    assert report["redemptions"] == {"count": None, "members": None,
                                     "by_partner": {"cafe": {"count": None, "members": None, "owed_gbp": None}}}
    assert report["cost"] == {"owed_to_partners_gbp": None, "per_active_member_gbp": None,
                              "per_tonne_co2e_gbp": None}
    assert report["groups"] == [{"group_id": "food-bank", "donated": 25, "donors": 5}]
    reasons = {entry["cell"]: entry["reason"] for entry in report["suppressed"]}
    assert reasons.pop("journeys.by_mode.tram") == "fewer than 5 members"
    assert reasons.pop("journeys.by_mode.rail").startswith("secondary: would reveal journeys.by_mode.tram")
    assert set(reasons) == {"volunteering", "points.redeemed", "redemptions", "redemptions.by_partner.cafe",
                            "cost.owed_to_partners_gbp", "cost.per_active_member_gbp", "cost.per_tonne_co2e_gbp"}
    assert [row["key"] for row in report["breakdown"]["rows"]] == ["bus", "rail", "tram"]

    by_area = services.report(rt, DAY, DAY + timedelta(days=6), group_by="area")["breakdown"]["rows"]
    assert [row["key"] for row in by_area] == ["LS6", "LS7"]  # the rail riders gave no consent
    assert by_area[0]["journeys"] == {"journeys": 12, "km": 90.0, "co2e_avoided_kg": pytest.approx(co2e_bus, abs=1e-3),
                                      "members": 6}
    assert by_area[1]["journeys"]["journeys"] is None and by_area[1]["registered"] == {"members": None}


def test_retention_is_the_share_of_a_months_earners_who_earn_again_the_next_month(rt, drive):
    march, april = datetime(2025, 3, 10, 12, tzinfo=UTC), datetime(2025, 4, 10, 12, tzinfo=UTC)
    members = ids("ret", 8)
    for member in members:
        drive.earn(member, 10, at=march)
    for member in members[:6]:
        drive.earn(member, 10, at=april)
    report = services.report(rt, date(2025, 3, 1), date(2025, 4, 30), group_by="month")
    assert report["members"]["retention"] == {"rate": 0.75, "by_month": [
        {"month": "2025-03", "active": 8, "retained": 6, "rate": 0.75}]}
    assert [row["key"] for row in report["breakdown"]["rows"]] == ["2025-03", "2025-04"]
    assert [row["active"]["members"] for row in report["breakdown"]["rows"]] == [8, 6]


def test_the_report_over_http_for_analysts_only_as_json_csv_and_a_page(rt, drive, settings_for, issue_token):
    from impact.app import create_app

    public_key = settings_for("impact").token_public_key
    keyed = bootstrap(Settings.from_env("impact", {**rt.settings.extra, "REWARDS_TOKEN_PUBLIC_KEY": public_key}),
                      database=rt.database)
    client = create_app(keyed).test_client()
    drive.member("fay", area="LS6", mode="car")
    drive.journey("fay", "bus", 12.0)
    analyst = {"Authorization": f"Bearer {issue_token('analyst')}"}
    path = "/v1/reports/impact?from=2025-03-01&to=2025-03-31"

    body = client.get(path, headers=analyst)
    assert body.status_code == 200 and body.json["from"] == "2025-03-01" and body.json["journeys"]["count"] is None
    table = client.get(path, headers={**analyst, "Accept": "text/csv"})
    assert table.status_code == 200 and table.mimetype == "text/csv"
    assert "journeys.count,," in table.get_data(as_text=True)
    page = client.get("/v1/reports/impact.html?from=2025-03-01&to=2025-03-31", headers=analyst)
    assert page.status_code == 200 and page.mimetype == "text/html" and "<svg" in page.get_data(as_text=True)

    for role, status in ((None, 401), ("app", 403), ("operator:leeds-bus", 403), ("admin", 403), ("support", 403),
                         ("member:m-1", 403)):
        headers = {"Authorization": f"Bearer {issue_token(role)}"} if role else {}
        assert client.get(path, headers=headers).status_code == status, role
    bad = client.get("/v1/reports/impact?from=2025-03-31&to=2025-03-01", headers=analyst)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json" and "to" in bad.json["errors"]
    missing = client.get("/v1/reports/impact?to=2025-03-01&group_by=planet", headers=analyst)
    assert missing.status_code == 422 and set(missing.json["errors"]) == {"from", "group_by"}
    unknown = client.get("/v1/journeys/no-such-journey/impact", headers=analyst)
    assert unknown.status_code == 404 and unknown.mimetype == "application/problem+json"


def test_activities_count_by_priority_and_kind_with_corrections_voids_and_suppression(rt, drive):
    """k = 5. Six members cycle (transport and climate), five visit a leisure centre (health), five have a home
    energy check (housing and climate), two recycle (climate). Recycling is hidden; so is the smallest other
    kind, the energy checks, or recycling = all − the rest; and housing, which is the energy checks alone.
    One trip is corrected, one visit voided, a stale revision ignored."""
    from rewards_shared.events.schemas import ACTIVITY_KINDS

    def activity(member_id, provider_id, activity_id, kind, quantity, revision=1, event="activity.recorded"):
        drive.send(event, member_id, provider_id=provider_id, activity_id=activity_id, kind=kind,
                   priorities=list(ACTIVITY_KINDS[kind][0]), occurred_at=AT.isoformat(), quantity=quantity,
                   unit=ACTIVITY_KINDS[kind][1], revision=revision)

    for member in ids("cyc", 6):
        activity(member, "bikes", f"trip-{member}", "cycle.trip", 3.0)
    activity("cyc-0", "bikes", "trip-cyc-0", "cycle.trip", 5.5, revision=2, event="activity.corrected")
    activity("cyc-0", "bikes", "trip-cyc-0", "cycle.trip", 3.0, revision=1)  # late and stale
    for member in ids("swim", 5):
        activity(member, "pool", f"swim-{member}", "leisure.visit", 1)
    activity("swim-0", "pool", "swim-extra", "leisure.visit", 1)
    drive.send("activity.voided", "swim-0", provider_id="pool", activity_id="swim-extra", kind="leisure.visit",
               revision=2)
    for member in ids("home", 5):
        activity(member, "energy", f"check-{member}", "home.energy_check", 1)
    for member in ids("rec", 2):
        activity(member, "tip", f"tip-{member}", "recycling.visit", 1)

    week = (DAY, DAY + timedelta(days=6))
    report = services.report(rt, *week)
    found = report["activities"]
    assert (found["count"], found["members"]) == (18, 18)
    assert found["by_priority"] == {
        "health": {"count": 5, "members": 5}, "transport": {"count": 6, "members": 6},
        "climate": {"count": 13, "members": 13}, "housing": {"count": None, "members": None},
        "wellbeing": {"count": 0, "members": 0}}
    assert found["by_kind"] == {
        "cycle.trip": {"count": 6, "quantity": 20.5, "members": 6, "unit": "km"},
        "home.energy_check": {"count": None, "quantity": None, "members": None, "unit": "check"},
        "leisure.visit": {"count": 5, "quantity": 5.0, "members": 5, "unit": "visit"},
        "recycling.visit": {"count": None, "quantity": None, "members": None, "unit": "visit"}}
    reasons = {entry["cell"]: entry["reason"] for entry in report["suppressed"]}
    assert reasons["activities.by_kind.recycling.visit"] == "fewer than 5 members"
    assert reasons["activities.by_kind.home.energy_check"].startswith("secondary")
    assert reasons["activities.by_priority.housing"].startswith("secondary")
    csv_text = services.report_csv(rt, *week)
    assert "activities.by_priority.climate.count,13," in csv_text
    assert "activities.by_priority.housing.count,,secondary" in csv_text
    page = services.report_page(rt, *week)
    assert 'id="activities"' in page and "wellbeing" in page


def test_a_poll_filed_as_a_set_leaves_what_filing_it_event_by_event_does(rt, drive):
    def events(prefix: str) -> list[Event]:
        def journey(member, number, mode, km, revision=1, hour=8):
            return Event.create("transit.journey.corrected" if revision > 1 else "transit.journey.completed",
                                "test", f"{prefix}-{member}", {
                                    "member_id": f"{prefix}-{member}", "journey_id": f"{prefix}-j{number}",
                                    "operator_id": "op", "kind": "paired", "mode": mode, "revision": revision,
                                    "started_at": (AT + timedelta(hours=hour - 12)).isoformat(), "distance_km": km})
        found = [journey("car", 1, "bus", 4.0), journey("car", 2, "rail", 12.5, hour=17),
                 journey("car", 1, "tram", 5.0, revision=3), journey("car", 1, "bus", 6.0, revision=2),
                 journey("walker", 3, "bus", 2.0), journey("walker", 3, "bus", 2.0), journey("gone", 4, "bus", 1.0)]
        found += [Event.create(kind, "test", f"{prefix}-{member}", {"member_id": f"{prefix}-{member}", "points": points,
                                                                    "transfer_id": str(uuid.uuid4())}, time=AT)
                  for kind, member, points in (("points.earned", "car", 10), ("points.earned", "car", 15),
                                               ("points.expired", "walker", 5), ("points.earned", "gone", 10))]
        return found

    def facts(prefix: str) -> dict:
        with rt.database.transaction() as session:
            journeys = session.execute(sa.select(Journey.journey_id, Journey.revision, Journey.mode, Journey.km,
                                                 Journey.co2e_avoided_kg, Journey.peak, Journey.voided)
                                       .where(Journey.journey_id.like(f"{prefix}-%"))
                                       .order_by(Journey.journey_id)).all()
            moved = session.execute(sa.text(
                "SELECT m.kind, m.points FROM movements m JOIN links l ON l.pseudonym = m.pseudonym"
                " WHERE l.member_hash = ANY(:hashes) ORDER BY m.kind, m.points"),
                {"hashes": [rt.facts.pseudonyms.member_hash(f"{prefix}-{m}") for m in ("car", "walker", "gone")]}).all()
        return {"journeys": [(j[0].removeprefix(prefix), *j[1:]) for j in journeys],
                "movements": [tuple(m) for m in moved]}

    for prefix in ("one", "set"):
        drive.member(f"{prefix}-car", mode="car")
        drive.member(f"{prefix}-gone")
        drive.send("member.erased", f"{prefix}-gone")
    for event in events("one"):
        with rt.database.transaction() as session:
            drive.handlers[event.type](session, event)
    batch = events("set")
    with rt.database.transaction() as session:
        for kind in dict.fromkeys(e.type for e in batch):
            drive.handlers[kind].handle_batch(session, [e for e in batch if e.type == kind])
    assert facts("set") == facts("one")
    assert [j[1:3] for j in facts("set")["journeys"] if j[0] == "-j1"] == [(3, "tram")]
    assert len(facts("set")["movements"]) == 3, "the erased member's points are not filed"
