"""Challenges against real PostgreSQL: counted in the crediting transaction, once per activity however often
its event comes, the bonus once, a voided journey withdrawn until completion, providers' activities by the
city's priority, and erasure."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from points import earnings, ledger
from points.models import Challenge, ChallengeActivity, ChallengeProgress, Transfer
from rewards_shared.db import outbox

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


@pytest.fixture
def points_db(databases):
    return databases("points")


@pytest.fixture
def challenge(points_db):
    """A count of three bus journeys of one operator, so no other test's journeys count."""
    def define(**fields) -> Challenge:
        row = Challenge(**{"challenge_id": f"ch-{uuid.uuid4().hex[:10]}", "title": "Three bus journeys",
                           "kind": "count", "activity": "transit.journey", "target": 3,
                           "filter": {"mode": "bus", "operator_id": operator}, "starts_at": START,
                           "ends_at": START + timedelta(days=30), "bonus_points": 100, "created_by": "test",
                           **fields})
        with points_db.transaction() as session:
            session.add(row)
        return row
    operator = f"op-{uuid.uuid4().hex[:8]}"
    define.operator = operator
    return define


def journey(member_id, operator_id, *, n, revision=1, mode="bus", days=0):
    return {"member_id": member_id, "journey_id": f"{operator_id}-{member_id}-{n}", "operator_id": operator_id,
            "kind": "paired", "mode": mode, "started_at": START + timedelta(days=days, hours=8 + n),
            "revision": revision}


def outbox_count(session, member_id, event_type):
    return session.execute(sa.select(sa.func.count()).select_from(outbox).where(
        outbox.c.key == member_id, outbox.c.event_type == event_type)).scalar()


def standing(session, challenge_id, member_id):
    return session.get(ChallengeProgress, (challenge_id, member_id), populate_existing=True)


def test_each_journey_counts_once_and_the_bonus_is_paid_once(points_db, challenge, member_id):
    defined = challenge()
    operator = challenge.operator
    at = START + timedelta(days=5)
    with points_db.transaction() as session:
        for n in (1, 2):
            earnings.credit_journey(session, journey(member_id, operator, n=n), at=at)
            earnings.credit_journey(session, journey(member_id, operator, n=n), at=at)  # redelivered
        earnings.credit_journey(session, journey(member_id, operator, n=1, revision=2), at=at)  # corrected
        earnings.credit_journey(session, journey(member_id, operator, n=9, mode="rail"), at=at)  # filtered out
        assert standing(session, defined.challenge_id, member_id).progress == 2
        assert outbox_count(session, member_id, "challenge.progressed") == 2
    with points_db.transaction() as session:
        for n in (3, 4, 3):
            earnings.credit_journey(session, journey(member_id, operator, n=n), at=at)
        done = standing(session, defined.challenge_id, member_id)
        assert (done.progress, done.completed_at) == (3, at)
        bonus = session.get(Transfer, done.bonus_transfer_id)
        assert (bonus.amount, bonus.source_type, bonus.source_id) == (100, "challenge", defined.challenge_id)
        assert session.execute(sa.select(sa.func.count()).select_from(Transfer).where(
            Transfer.member_id == member_id, Transfer.source_type == "challenge")).scalar() == 1
        assert outbox_count(session, member_id, "challenge.completed") == 1
        # The bonus is an earning: it counts towards the member's lifetime points (and so the tier).
        earned = session.execute(sa.select(sa.func.sum(Transfer.amount)).where(
            Transfer.member_id == member_id, Transfer.code == "earn")).scalar()
        reversed_ = session.execute(sa.select(sa.func.coalesce(sa.func.sum(Transfer.amount), 0)).where(
            Transfer.member_id == member_id, Transfer.code == "reverse")).scalar()
        assert ledger.balance(session, member_id).lifetime_earned == earned - reversed_


def test_a_voided_journey_stops_counting_until_the_challenge_is_completed(points_db, challenge, member_id):
    defined = challenge()
    operator = challenge.operator
    at = START + timedelta(days=5)
    with points_db.transaction() as session:
        for n in (1, 2):
            earnings.credit_journey(session, journey(member_id, operator, n=n), at=at)
        earnings.void_journey(session, {"member_id": member_id, "journey_id": f"{operator}-{member_id}-2",
                                        "operator_id": operator, "reason": "denied", "revision": 2}, at=at)
        assert standing(session, defined.challenge_id, member_id).progress == 1
        assert session.execute(sa.select(ChallengeActivity.activity_id).where(
            ChallengeActivity.member_id == member_id)).scalars().all() == [f"journey:{operator}-{member_id}-1"]


def test_journeys_outside_the_window_do_not_count_and_a_withdrawn_challenge_counts_nothing(points_db, challenge,
                                                                                         member_id):
    defined = challenge()
    withdrawn = challenge(active=False)
    operator = challenge.operator
    with points_db.transaction() as session:
        earnings.credit_journey(session, journey(member_id, operator, n=1, days=-3), at=START)
        earnings.credit_journey(session, journey(member_id, operator, n=2, days=31), at=START)
        earnings.credit_journey(session, journey(member_id, operator, n=3, days=1), at=START)
        assert standing(session, defined.challenge_id, member_id).progress == 1
        assert standing(session, withdrawn.challenge_id, member_id) is None


def test_a_weekly_streak_counts_leeds_weeks(points_db, challenge, member_id):
    defined = challenge(kind="streak", target=None, period="week", periods=2, min_per_period=1)
    operator = challenge.operator
    with points_db.transaction() as session:
        # Sunday 8 November 23:30 in Leeds (GMT) and Monday 9 November: two weeks running.
        sunday_night = {**journey(member_id, operator, n=1), "started_at": datetime(2026, 11, 8, 23, 30, tzinfo=UTC)}
        earnings.credit_journey(session, sunday_night, at=START)
        assert standing(session, defined.challenge_id, member_id).progress == 1
        monday = {**journey(member_id, operator, n=2), "started_at": datetime(2026, 11, 9, 7, 0, tzinfo=UTC)}
        earnings.credit_journey(session, monday, at=START)
        assert standing(session, defined.challenge_id, member_id).completed_at is not None


def visit(member_id, provider_id, *, n, revision=1, kind="leisure.visit", priorities=("health",)):
    return {"member_id": member_id, "provider_id": provider_id, "activity_id": f"visit-{n}", "kind": kind,
            "priorities": list(priorities), "occurred_at": START + timedelta(days=n, hours=9), "quantity": 1.0,
            "unit": "visit", "revision": revision}


def test_providers_activities_count_by_priority_in_one_batch_and_a_void_withdraws_one(points_db, challenge,
                                                                                     member_id):
    provider = f"leisure-{uuid.uuid4().hex[:8]}"
    defined = challenge(activity="provider.activity", target=3, filter={"priority": "health", "provider_id": provider})
    at = START + timedelta(days=10)
    with points_db.transaction() as session:
        earnings.credit_activities(session, [
            visit(member_id, provider, n=1), visit(member_id, provider, n=1),  # redelivered
            visit(member_id, provider, n=2), visit(member_id, provider, n=2, revision=2),  # corrected
            visit(member_id, provider, n=3, kind="library.visit", priorities=("wellbeing",))], at=at)  # not health
        assert standing(session, defined.challenge_id, member_id).progress == 2
        earnings.void_activity(session, {"member_id": member_id, "provider_id": provider, "activity_id": "visit-2",
                                         "revision": 3, "reason": "booking cancelled"}, at=at)
        assert standing(session, defined.challenge_id, member_id).progress == 1
        earnings.credit_activities(session, [visit(member_id, provider, n=4), visit(member_id, provider, n=5)], at=at)
        done = standing(session, defined.challenge_id, member_id)
        assert (done.progress, done.completed_at) == (3, at)
        assert session.get(Transfer, done.bonus_transfer_id).amount == 100
        assert session.execute(sa.select(ChallengeActivity.activity_id).where(
            ChallengeActivity.member_id == member_id).order_by(ChallengeActivity.activity_id)).scalars().all() == [
            f"activity:{provider}:visit-{n}" for n in (1, 4, 5)]


def test_erasure_puts_the_pseudonym_in_the_members_place(points_db, challenge, member_id):
    defined = challenge()
    with points_db.transaction() as session:
        earnings.credit_journey(session, journey(member_id, challenge.operator, n=1), at=START)
        pseudonym = f"erased-{uuid.uuid4().hex}"
        assert ledger.erase_member(session, member_id, pseudonym=pseudonym)
        for model in (ChallengeProgress, ChallengeActivity):
            assert session.execute(sa.select(sa.func.count()).select_from(model).where(
                model.member_id == member_id)).scalar() == 0
        assert standing(session, defined.challenge_id, pseudonym).progress == 1
