"""Retention in transit-ingest, through the real database and the worker's own job: raw taps go after
TAP_RETENTION_DAYS, older journeys keep only what the ledger and the impact figures rest on, and no
operator file outlives its processing."""
from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from transit_ingest import feeds, ingest, jobs, links, operators
from transit_ingest.bootstrap import bootstrap
from transit_ingest.models import Feed, FeedError, Journey, Tap

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def rt(settings_for):
    runtime = bootstrap(settings_for("transit-ingest"), clock=lambda: NOW)
    yield runtime
    runtime.database.dispose()


def push(rt, operator_id: str, card_ref: str, at: datetime) -> str:
    """A tap-on and a tap-off; the id of the tap-on."""
    prefix = uuid.uuid4().hex[:10]
    rows = [{"tap_id": f"{prefix}-{kind}", "card_ref": card_ref, "occurred_at": (at + gap).isoformat(), "type": kind,
             "outcome": "allow", "mode": "bus", "route_id": "19", "stop_id": stop, "latitude": 53.8, "longitude": -1.5}
            for kind, gap, stop in (("on", timedelta(0), "S1"), ("off", timedelta(minutes=20), "S2"))]
    valid, errors = ingest.validate_rows(rows)
    assert not errors
    with rt.database.transaction() as session:
        ingest.ingest(session, operator_id, valid, rt.cards, now=NOW)
    return f"{prefix}-on"


def retention_job(rt):
    return next(job for job in jobs.build(rt) if job.name == "retention")


def test_old_taps_go_old_journeys_are_minimised_and_files_do_not_outlive_their_processing(rt):
    operator_id, member_id, card_ref = f"op-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with rt.database.transaction() as session:
        operators.register(session, id=operator_id, name="Old buses")
        links.link(session, rt.cards, member_id=member_id, operator_id=operator_id, card_ref=card_ref,
                   now=NOW - timedelta(days=200))
    old_on = push(rt, operator_id, card_ref, NOW - timedelta(days=100))
    recent_on = push(rt, operator_id, card_ref, NOW - timedelta(days=10))
    with rt.database.transaction() as session:
        old_feed = feeds.receive(session, operator_id, "tides", io.BytesIO(b"not a tides file\n"))
        session.add(FeedError(feed_id=old_feed.id, line=2, field="transaction_id", message="Missing."))
        old_feed.status, old_feed.finished_at = "failed", NOW - timedelta(days=120)
        finished_with_file = feeds.receive(session, operator_id, "tides", io.BytesIO(b"left behind\n"))
        finished_with_file.status, finished_with_file.finished_at = "done", NOW
        waiting = feeds.receive(session, operator_id, "tides", io.BytesIO(b"still to be read\n"))
        orphan = session.execute(sa.text("SELECT lo_from_bytea(0, 'an upload cut off half-way')")).scalar()
    assert old_feed.content_oid is not None and finished_with_file.content_oid is not None

    retention_job(rt).run()

    with rt.database.transaction() as session:
        taps = set(session.execute(sa.select(Tap.tap_id).where(Tap.operator_id == operator_id)).scalars())
        assert taps == {recent_on, recent_on.replace("-on", "-off")}, "only taps within TAP_RETENTION_DAYS stay"
        old = session.execute(sa.select(Journey).where(Journey.on_tap_id == old_on)).scalar_one()
        assert (old.card_hash, old.member_id, old.route_id, old.origin_stop_id, old.destination_stop_id) == \
            (None, None, None, None, None)
        assert (old.mode, old.kind, old.distance_km is not None, old.revision) == ("bus", "paired", True, 1)
        recent = session.execute(sa.select(Journey).where(Journey.on_tap_id == recent_on)).scalar_one()
        assert recent.card_hash is not None and recent.member_id == member_id and recent.origin_stop_id == "S1"
        objects = set(session.execute(sa.text("SELECT oid FROM pg_largeobject_metadata")).scalars())
        assert orphan not in objects and old_feed.content_oid not in objects
        assert finished_with_file.content_oid not in objects and waiting.content_oid in objects
        assert session.get(Feed, finished_with_file.id).content_oid is None
        assert session.execute(sa.select(sa.func.count()).select_from(FeedError)
                               .where(FeedError.feed_id == old_feed.id)).scalar() == 0
    assert retention_job(rt).run() == 0, "a second run finds nothing left to do"
