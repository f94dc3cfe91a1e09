"""Property-based: any sequence of earn, hold, capture, release, expire, adjust and reverse leaves the
ledger whole — balances equal their transfers, nobody below zero, lots match balances."""
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from points import earnings, ledger
from points.models import Lot, Transfer
from points.verify import verify
from rewards_shared.errors import DomainError
from rewards_shared.runtime import utc_now

amounts = st.integers(min_value=1, max_value=60)
operations = st.lists(st.one_of(
    st.tuples(st.just("earn"), amounts),
    st.tuples(st.just("journey"), st.sampled_from(["bus", "rail", "tram"])),
    st.tuples(st.just("hold"), amounts),
    st.tuples(st.just("capture"), st.integers(0, 5)),
    st.tuples(st.just("release"), st.integers(0, 5)),
    st.tuples(st.just("expire"), st.integers(0, 3)),
    st.tuples(st.just("adjust"), st.integers(-40, 40).filter(bool)),
    st.tuples(st.just("reverse"), st.integers(0, 3)),
), min_size=1, max_size=25)


def apply(session, member_id, step, state):
    kind, arg = step
    if kind == "earn":
        ledger.earn(session, member_id=member_id, points=arg, source_type="test", source_id=uuid.uuid4().hex,
                    cause=uuid.uuid4().hex)
    elif kind == "journey":
        journey_id = uuid.uuid4().hex
        state["journeys"].append(journey_id)
        started_at = utc_now() - timedelta(days=len(state["journeys"]))
        earnings.credit_journey(session, {"member_id": member_id, "journey_id": journey_id, "revision": 1,
                                          "mode": arg, "started_at": started_at,
                                          "origin_stop_id": None, "destination_stop_id": None})
    elif kind == "hold":
        state["holds"].append(ledger.hold(session, member_id=member_id, points=arg, id=uuid.uuid4(),
                                          timeout_at=utc_now() + timedelta(hours=1), source_type="redemption",
                                          source_id=uuid.uuid4().hex).transfer.id)
    elif kind in ("capture", "release") and state["holds"]:
        hold_id = state["holds"][arg % len(state["holds"])]
        if kind == "capture":
            ledger.capture(session, hold_id, id=uuid.uuid4())
        else:
            ledger.release(session, hold_id, id=uuid.uuid4(), reason="test")
    elif kind == "expire":
        lots = session.execute(sa.select(Lot).where(Lot.member_id == member_id, Lot.remaining > 0)
                               .order_by(Lot.id)).scalars().all()
        if lots:
            lots[arg % len(lots)].expires_at = utc_now() - timedelta(minutes=1)
            session.flush()
            ledger.expire_due_lots(session)
    elif kind == "adjust":
        ledger.adjust(session, member_id=member_id, points=arg, reason="property test", actor="test",
                      key=uuid.uuid4().hex)
    elif kind == "reverse" and state["journeys"]:
        journey_id = state["journeys"][arg % len(state["journeys"])]
        earnings.void_journey(session, {"member_id": member_id, "journey_id": journey_id, "revision": 9,
                                        "reason": "test"})


@pytest.fixture(scope="module")
def points_db(databases):
    return databases("points")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_any_sequence_keeps_the_ledger_whole(points_db, steps):
    member_id = f"prop-{uuid.uuid4().hex[:12]}"
    state = {"holds": [], "journeys": []}
    with points_db.transaction() as session:
        ledger.ensure_member(session, member_id)
    for step in steps:
        try:
            with points_db.transaction() as session:
                apply(session, member_id, step, state)
        except DomainError:
            pass
        with points_db.transaction() as session:
            current = ledger.balance(session, member_id)
            assert current.available >= 0 and current.held >= 0 and current.pending >= 0
            live = session.execute(sa.select(sa.func.coalesce(sa.func.sum(Transfer.amount), 0)).where(
                Transfer.member_id == member_id, Transfer.pending.is_(True),
                Transfer.id.not_in(sa.select(Transfer.pending_id).where(Transfer.pending_id.is_not(None))))).scalar()
            assert current.held == live
    with points_db.transaction() as session:
        report = verify(session)
        assert [b for b in report.breaches if member_id in b] == []
