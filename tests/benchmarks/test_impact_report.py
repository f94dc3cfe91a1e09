"""The impact report over 1,000,000 journeys for 100,000 members, over HTTP under gunicorn (goal: < 2 s).

The facts are written straight into the impact database with set-based SQL (the events that would make
them are measured by the pipeline benchmark); then each form of the report is fetched a few times."""
import os
import time

import sqlalchemy as sa

from tests.benchmarks.support import record, summary_ms

SERVICES = ["impact"]
MEMBERS = int(os.environ.get("BENCH_IMPACT_MEMBERS", "100000"))
JOURNEYS = int(os.environ.get("BENCH_IMPACT_JOURNEYS", "1000000"))
RUNS = int(os.environ.get("BENCH_IMPACT_RUNS", "5"))

SEED = [
    "TRUNCATE members, journeys, movements, attendances, redemptions, links, erased",
    """INSERT INTO members (pseudonym, registered_on, first_seen_on, research_consent, home_area, usual_mode)
       SELECT md5('m' || i)::uuid, date '2026-01-01' + (i % 330), date '2026-01-01' + (i % 330), i % 4 <> 0,
              'LS' || (1 + i % 29), (ARRAY['car', 'bus', 'walk', 'cycle', 'rail'])[1 + i % 5]
         FROM generate_series(1, :members) i""",
    """INSERT INTO journeys (journey_id, pseudonym, revision, day, started_at, mode, peak, km, factor_set,
                             mode_factor, car_factor, co2e_avoided_kg, voided)
       SELECT 'bench-' || i, md5('m' || (1 + i % :members))::uuid, 1, date '2026-01-01' + (i % 365),
              timestamptz '2026-01-01 07:00Z' + (i % 365) * interval '1 day' + (i % 14) * interval '1 hour',
              m.mode, i % 14 < 3, CASE WHEN i % 20 = 0 THEN NULL ELSE 1 + (i % 170) / 10.0 END, '2025',
              m.factor, 0.16725,
              CASE WHEN (1 + i % :members) % 5 = 1 AND (1 + i % :members) % 4 <> 0 AND i % 20 <> 0
                   THEN (1 + (i % 170) / 10.0) * (0.16725 - m.factor) ELSE 0 END,
              i % 500 = 0
         FROM generate_series(1, :journeys) i
         JOIN (VALUES (0, 'bus', 0.10385), (1, 'bus', 0.10385), (2, 'rail', 0.03546), (3, 'tram', 0.0286))
              AS m(slot, mode, factor) ON m.slot = i % 4""",
    """INSERT INTO movements (event_id, pseudonym, day, kind, points, group_id)
       SELECT md5('e' || i)::uuid, md5('m' || (1 + i % :members))::uuid, date '2026-01-01' + (i % 365),
              CASE WHEN i % 10 = 0 THEN 'redeemed' WHEN i % 37 = 0 THEN 'donated' WHEN i % 53 = 0 THEN 'expired'
                   ELSE 'issued' END,
              CASE WHEN i % 10 = 0 THEN -30 WHEN i % 37 = 0 THEN -5 WHEN i % 53 = 0 THEN -10 ELSE 15 END,
              CASE WHEN i % 37 = 0 AND i % 10 <> 0 THEN 'group-' || (i % 7) END
         FROM generate_series(1, :journeys) i""",
    """INSERT INTO attendances (attendance_id, pseudonym, day, minutes)
       SELECT 'a' || i, md5('m' || (1 + i * 7 % :members))::uuid, date '2026-01-01' + (i % 365), 30 + i % 240
         FROM generate_series(1, :journeys / 20) i""",
    """INSERT INTO redemptions (redemption_id, pseudonym, partner_id, reward_id, day, cost_points, funded_by,
                                settlement_pence)
       SELECT 'r' || i, md5('m' || (1 + i * 13 % :members))::uuid, 'partner-' || (i % 12), 'reward-' || (i % 40),
              date '2026-01-01' + (i % 365), 30, CASE WHEN i % 3 = 0 THEN 'partner' ELSE 'council' END, 150
         FROM generate_series(1, :journeys / 10) i""",
    "ANALYZE",
]


def test_a_years_report_over_a_million_journeys(client, databases):
    database = databases("impact")
    started = time.perf_counter()
    with database.engine.begin() as connection:
        for statement in SEED[:-1]:
            connection.execute(sa.text(statement), {"members": MEMBERS, "journeys": JOURNEYS})
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text(SEED[-1]))
    seeded_in = time.perf_counter() - started

    analyst = client("impact", "analyst")
    figures = {}
    for name, path, headers in (
            ("json", "/v1/reports/impact?from=2026-01-01&to=2026-12-31", {}),
            ("json_by_week", "/v1/reports/impact?from=2026-01-01&to=2026-12-31&group_by=week", {}),
            ("json_by_area", "/v1/reports/impact?from=2026-01-01&to=2026-12-31&group_by=area", {}),
            ("csv", "/v1/reports/impact?from=2026-01-01&to=2026-12-31", {"Accept": "text/csv"}),
            ("html", "/v1/reports/impact.html?from=2026-01-01&to=2026-12-31", {}),
            ("json_one_month", "/v1/reports/impact?from=2026-06-01&to=2026-06-30", {})):
        timings = []
        for _ in range(RUNS):
            began = time.perf_counter()
            response = analyst.get(path, headers=headers, timeout=120)
            timings.append(time.perf_counter() - began)
            assert response.status_code == 200, response.text
        figures[name] = summary_ms(timings)
    report = analyst.get("/v1/reports/impact?from=2026-01-01&to=2026-12-31").json()
    assert report["journeys"]["count"] == JOURNEYS - JOURNEYS // 500
    record("impact_report", {"members": MEMBERS, "journeys": JOURNEYS, "seeded_in_s": round(seeded_in, 1),
                             "runs": RUNS, **figures, "goal": "< 2 s for a year over 1,000,000 journeys"})
