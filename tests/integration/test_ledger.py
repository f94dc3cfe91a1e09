"""The ledger against real PostgreSQL: at-most-once transfers, holds, lots, expiry, reversals, verify."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from points import earnings, ledger
from points.models import Account, Lot, Member, Transfer
from points.verify import verify
from rewards_shared.db import outbox
from rewards_shared.runtime import utc_now


@pytest.fixture
def points_db(databases):
    return databases("points")


def events_for(session, member_id, event_type):
    return session.execute(sa.select(sa.func.count()).select_from(outbox).where(
        outbox.c.key == member_id, outbox.c.event_type == event_type)).scalar()


def give(session, member_id, points, cause=None):
    return ledger.earn(session, member_id=member_id, points=points, source_type="test",
                       source_id=cause or uuid.uuid4().hex, cause=cause or uuid.uuid4().hex)


def test_the_same_transfer_twice_returns_the_original_and_different_fields_conflict(points_db, member_id):
    with points_db.transaction() as session:
        first = give(session, member_id, 10, cause="c1")
        again = give(session, member_id, 10, cause="c1")
        assert (first.created, again.created) == (True, False)
        assert again.transfer.id == first.transfer.id
        with pytest.raises(ledger.TransferExists) as conflict:
            give(session, member_id, 11, cause="c1")
        assert conflict.value.errors == {"amount": [conflict.value.detail]}
        assert ledger.balance(session, member_id).available == 10
        assert events_for(session, member_id, "points.earned") == 1


def test_a_hold_is_captured_or_released_at_most_once(points_db, member_id):
    with points_db.transaction() as session:
        give(session, member_id, 100)
        held = ledger.hold(session, member_id=member_id, points=30, id=uuid.uuid4(),
                           timeout_at=utc_now() + timedelta(days=1), source_type="redemption", source_id="r1")
        assert (ledger.balance(session, member_id).available, ledger.balance(session, member_id).held) == (70, 30)
        ledger.capture(session, held.transfer.id, id=uuid.uuid4())
        with pytest.raises(ledger.HoldResolved):
            ledger.release(session, held.transfer.id, id=uuid.uuid4(), reason="late")
        with pytest.raises(ledger.HoldResolved):
            ledger.capture(session, held.transfer.id, id=uuid.uuid4())
        after = ledger.balance(session, member_id)
        assert (after.available, after.held) == (70, 0)

        other = ledger.hold(session, member_id=member_id, points=50, id=uuid.uuid4(),
                            timeout_at=utc_now() + timedelta(days=1), source_type="redemption", source_id="r2")
        ledger.release(session, other.transfer.id, id=uuid.uuid4(), reason="cancelled")
        assert ledger.balance(session, member_id).available == 70
        with pytest.raises(ledger.InsufficientPoints):
            ledger.hold(session, member_id=member_id, points=71, id=uuid.uuid4(),
                        timeout_at=utc_now() + timedelta(days=1), source_type="redemption", source_id="r3")


def test_a_forgotten_hold_is_released_at_its_timeout(points_db, member_id):
    with points_db.transaction() as session:
        give(session, member_id, 40)
        ledger.hold(session, member_id=member_id, points=40, id=uuid.uuid4(),
                    timeout_at=utc_now() - timedelta(seconds=1), source_type="redemption", source_id="r-old")
        assert ledger.balance(session, member_id).available == 0
    with points_db.transaction() as session:
        assert ledger.release_timed_out_holds(session) >= 1
    with points_db.transaction() as session:
        assert ledger.balance(session, member_id).available == 40
        assert events_for(session, member_id, "points.released") == 1


def test_pending_points_become_available_on_confirmation_or_disappear_on_rejection(points_db, member_id):
    with points_db.transaction() as session:
        ledger.credit_pending(session, member_id=member_id, points=50, source_type="attendance", source_id="a1",
                              cause="attendance:a1")
        ledger.credit_pending(session, member_id=member_id, points=25, source_type="attendance", source_id="a2",
                              cause="attendance:a2")
        assert (ledger.balance(session, member_id).pending, ledger.balance(session, member_id).available) == (75, 0)
        ledger.settle_pending(session, member_id=member_id, cause="attendance:a1", confirmed=True)
        ledger.settle_pending(session, member_id=member_id, cause="attendance:a2", confirmed=False, reason="no show")
        ledger.settle_pending(session, member_id=member_id, cause="attendance:a1", confirmed=True)
        current = ledger.balance(session, member_id)
        assert (current.pending, current.available, current.lifetime_earned) == (0, 50, 50)


def _age_lots(session, member_id, expires_at):
    session.execute(sa.update(Lot).where(Lot.member_id == member_id).values(expires_at=expires_at))


def test_points_expire_oldest_first_and_held_points_wait_for_their_hold(points_db, member_id):
    with points_db.transaction() as session:
        give(session, member_id, 60)
        _age_lots(session, member_id, utc_now() - timedelta(days=1))
        give(session, member_id, 40)
        ledger.debit_available(session, member_id=member_id, amount=20, to_account=ledger.ISSUANCE, code="adjust",
                               id=uuid.uuid4(), reason="spend from the oldest lot")
        held = ledger.hold(session, member_id=member_id, points=70, id=uuid.uuid4(),
                           timeout_at=utc_now() + timedelta(days=1), source_type="redemption", source_id="r")
    with points_db.transaction() as session:
        ledger.expire_due_lots(session)
        current = ledger.balance(session, member_id)
        assert (current.available, current.held) == (0, 70), "the 10 spare expired"
        oldest = session.execute(sa.select(Lot).where(Lot.member_id == member_id).order_by(Lot.id)).scalars().first()
        assert oldest.remaining == 30, "the 30 the hold reserves wait for it"
        ledger.release(session, held.transfer.id, id=uuid.uuid4(), reason="cancelled")
    with points_db.transaction() as session:
        ledger.expire_due_lots(session)
        assert ledger.balance(session, member_id).available == 40
        assert events_for(session, member_id, "points.expired") == 2
        assert verify(session).ok


def test_expiring_soon_is_announced_once_per_lot(points_db, member_id):
    with points_db.transaction() as session:
        give(session, member_id, 15)
        _age_lots(session, member_id, utc_now() + timedelta(days=10))
    for _ in range(2):
        with points_db.transaction() as session:
            ledger.warn_expiring_lots(session)
    with points_db.transaction() as session:
        assert events_for(session, member_id, "points.expiring_soon") == 1
        assert [e["points"] for e in ledger.balance_view(session.connection(), member_id)["expiring"]] == [15]


def journey(member_id, journey_id, revision=1, mode="bus", started_at="2026-11-21T12:00:00+00:00"):
    return {"member_id": member_id, "journey_id": journey_id, "revision": revision, "mode": mode,
            "started_at": datetime.fromisoformat(started_at), "origin_stop_id": None, "destination_stop_id": None}


def test_corrections_replace_and_voids_reverse_what_a_journey_earned(points_db, member_id):
    with points_db.transaction() as session:
        earnings.credit_journey(session, journey(member_id, "j1"))
        assert ledger.balance(session, member_id).available == 15, "bus 10 + off-peak 5 on a Saturday"
        earnings.credit_journey(session, journey(member_id, "j1", revision=2, mode="rail"))
        assert ledger.balance(session, member_id).available == 20, "rail 15 + off-peak 5 replaces it"
        earnings.credit_journey(session, journey(member_id, "j1", revision=1))
        assert ledger.balance(session, member_id).available == 20, "a stale revision is ignored"
        earnings.void_journey(session, {"member_id": member_id, "journey_id": "j1", "revision": 3,
                                        "reason": "refunded"})
        assert ledger.balance(session, member_id).available == 0
        assert ledger.balance(session, member_id).lifetime_earned == 0


def test_a_void_arriving_before_its_journey_wins(points_db, member_id):
    with points_db.transaction() as session:
        earnings.void_journey(session, {"member_id": member_id, "journey_id": "j-late", "revision": 2,
                                        "reason": "refunded"})
        earnings.credit_journey(session, journey(member_id, "j-late"))
        assert ledger.balance(session, member_id) is None or ledger.balance(session, member_id).available == 0


def test_reversal_never_takes_a_member_below_zero(points_db, member_id):
    with points_db.transaction() as session:
        earnings.credit_journey(session, journey(member_id, "j2"))
        ledger.debit_available(session, member_id=member_id, amount=12, to_account=ledger.ISSUANCE, code="adjust",
                               id=uuid.uuid4(), reason="spent")
        earnings.void_journey(session, {"member_id": member_id, "journey_id": "j2", "revision": 2, "reason": "x"})
        assert ledger.balance(session, member_id).available == 0
        reversal = session.execute(sa.select(Transfer).where(Transfer.member_id == member_id,
                                                             Transfer.code == "reverse")).scalar_one()
        assert reversal.amount == 3 and reversal.details["shortfall"] == 12


def test_tiers_follow_lifetime_points_not_the_balance(points_db, member_id):
    with points_db.transaction() as session:
        give(session, member_id, 499)
        assert session.get(Member, member_id).tier == "bronze"
        give(session, member_id, 1)
        ledger.debit_available(session, member_id=member_id, amount=500, to_account=ledger.ISSUANCE, code="adjust",
                               id=uuid.uuid4(), reason="spent it all")
        assert session.get(Member, member_id).tier == "silver"
        assert events_for(session, member_id, "tier.changed") == 1


def test_adjustments_and_donations_are_audited_and_idempotent(points_db, member_id):
    group = f"g-{uuid.uuid4().hex[:8]}"
    with points_db.transaction() as session:
        ledger.ensure_member(session, member_id)
        ledger.adjust(session, member_id=member_id, points=30, reason="goodwill", actor="admin#1", key="k1")
        ledger.adjust(session, member_id=member_id, points=30, reason="goodwill", actor="admin#1", key="k1")
        ledger.add_group(session, group, "Leeds Food Bank")
        ledger.donate(session, member_id=member_id, group_id=group, points=12, key="d1", actor="app#1")
        with pytest.raises(ledger.InsufficientPoints):
            ledger.adjust(session, member_id=member_id, points=-19, reason="too much", actor="admin#1", key="k2")
        assert ledger.balance(session, member_id).available == 18
        assert ledger.groups(session, limit=1, group_id=group)[0]["points_received"] == 12
        adjustment = session.get(Transfer, ledger.transfer_id("adjust", "k1"))
        assert (adjustment.actor, adjustment.reason) == ("admin#1", "goodwill")


def test_verify_finds_a_tampered_balance(points_db, member_id):
    with points_db.transaction() as session:
        give(session, member_id, 5)
        assert verify(session).ok, verify(session).breaches
    with points_db.transaction() as session:
        session.execute(sa.update(Account).where(Account.id == ledger.available_account(member_id))
                        .values(credits_posted=Account.credits_posted + 1))
        report = verify(session)
        assert any(member_id in breach and "credits_posted" in breach for breach in report.breaches)
        session.rollback()


def test_verify_reports_a_hold_left_past_its_timeout(points_db, member_id):
    with points_db.transaction() as session:
        give(session, member_id, 5)
        ledger.hold(session, member_id=member_id, points=5, id=uuid.uuid4(),
                    timeout_at=datetime(2020, 1, 1, tzinfo=UTC), source_type="redemption", source_id="stuck")
        report = verify(session)
        assert any("unresolved" in breach for breach in report.breaches)
        session.rollback()
