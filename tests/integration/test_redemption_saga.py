"""The redemption saga against the real database: stock and limits, every transition guarded by the
state it leaves, events written with the state, the till's answers, expiry and settlement."""
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from redemption import catalogue, handlers, redemptions, settlement, vouchers
from redemption.bootstrap import bootstrap
from redemption.models import Redemption, Reward
from rewards_shared.consumer import ConsumerLoop
from rewards_shared.db import outbox
from rewards_shared.errors import Conflict, Gone, NotFound
from rewards_shared.events import Event, decode

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.fixture
def db(databases):
    return databases("redemption")


@pytest.fixture
def rt(db, settings_for):
    return bootstrap(settings_for("redemption"), database=db)


@pytest.fixture
def key(rt):
    return rt.voucher_key


@pytest.fixture
def loop(db, rt):
    return ConsumerLoop(name=f"test-{uuid.uuid4().hex[:8]}", topics=[], handlers=handlers.build(rt), database=db,
                        consumer_factory=None, producer_factory=None)


@pytest.fixture
def partner_id(db):
    partner = f"p-{uuid.uuid4().hex[:8]}"
    with db.transaction() as session:
        catalogue.add_partner(session, id=partner, name="Kirkgate Café")
    return partner


def add_reward(db, partner_id, **terms):
    reward_id = f"r-{uuid.uuid4().hex[:8]}"
    values = dict(id=reward_id, partner_id=partner_id, title="Flat white", cost_points=30, stock=5,
                  funded_by="council", settlement_pence=250, voucher_valid_days=14)
    with db.transaction() as session:
        catalogue.add_reward(session, {**values, **terms})
    return reward_id


def request(db, member_id, reward_id, at=NOW):
    with db.transaction() as session:
        return redemptions.request(session, redemption_id=uuid.uuid4(), member_id=member_id, reward_id=reward_id,
                                   at=at)


def stock(db, reward_id):
    with db.transaction() as session:
        return session.get(Reward, reward_id).stock


def state(db, redemption_id):
    with db.transaction() as session:
        return session.get(Redemption, redemption_id)


def events_for(db, redemption_id):
    with db.transaction() as session:
        payloads = session.execute(sa.select(outbox.c.payload).order_by(outbox.c.id)).scalars().all()
    found = [decode(payload) for payload in payloads]
    return [event for event in found if event.data.get("redemption_id") == str(redemption_id)]


def ledger_event(event_type, member_id, redemption_id, **data):
    fields = {"member_id": member_id, "redemption_id": str(redemption_id), "points": 30, **data}
    return Event.create(event_type, "points", member_id, fields)


def test_a_request_reserves_stock_records_pending_and_emits_requested_keyed_by_member(db, partner_id, member_id):
    reward_id = add_reward(db, partner_id)
    redemption = request(db, member_id, reward_id)
    assert redemption.status == "pending" and stock(db, reward_id) == 4
    [requested] = events_for(db, redemption.id)
    assert requested.type == "redemption.requested" and requested.subject == member_id
    assert requested.data["cost_points"] == 30 and requested.data["partner_id"] == partner_id
    with db.transaction() as session:
        keyed = session.execute(sa.select(outbox.c.key, outbox.c.topic)
                                .where(outbox.c.event_id == uuid.UUID(requested.id))).one()
    assert tuple(keyed) == (member_id, "redemption.events.v1")


def test_the_same_request_id_names_the_same_redemption(db, partner_id, member_id):
    reward_id = add_reward(db, partner_id)
    redemption_id = redemptions.redemption_id_for("app", "key-1")
    for _ in range(2):
        with db.transaction() as session:
            redemptions.request(session, redemption_id=redemption_id, member_id=member_id, reward_id=reward_id)
    assert stock(db, reward_id) == 4 and len(events_for(db, redemption_id)) == 1


@pytest.mark.parametrize(("terms", "reason"), [
    ({"stock": 0}, "out_of_stock"),
    ({"active": False}, "withdrawn"),
    ({"valid_from": NOW + timedelta(hours=1)}, "not_yet_open"),
    ({"valid_until": NOW - timedelta(seconds=1)}, "closed"),
])
def test_an_unavailable_reward_cannot_be_requested(db, partner_id, member_id, terms, reason):
    reward_id = add_reward(db, partner_id, **terms)
    with pytest.raises(redemptions.Unavailable) as refused:
        request(db, member_id, reward_id)
    assert refused.value.extra["reason"] == reason


def test_the_member_limit_counts_live_redemptions_only(db, partner_id, member_id, loop):
    reward_id = add_reward(db, partner_id, per_member_limit=1)
    first = request(db, member_id, reward_id)
    with pytest.raises(redemptions.Unavailable) as refused:
        request(db, member_id, reward_id)
    assert refused.value.extra["reason"] == "member_limit_reached" and stock(db, reward_id) == 4
    loop.apply(ledger_event("points.hold_rejected", member_id, first.id, reason="insufficient_points: 0"))
    assert request(db, member_id, reward_id).status == "pending"
    assert request(db, f"{member_id}-other", reward_id).status == "pending"


def test_points_held_issues_a_voucher_once(db, partner_id, member_id, loop, key):
    reward_id = add_reward(db, partner_id)
    redemption = request(db, member_id, reward_id)
    held = ledger_event("points.held", member_id, redemption.id, transfer_id="t-1", available=70)
    assert loop.apply(held) is True
    assert loop.apply(held) is False
    loop.apply(ledger_event("points.held", member_id, redemption.id, transfer_id="t-1"))
    issued = state(db, redemption.id)
    assert issued.status == "issued" and issued.hold_transfer_id == "t-1"
    assert issued.voucher_hash == vouchers.fingerprint(key.code_for(redemption.id))
    assert issued.expires_at - issued.issued_at == timedelta(days=14)
    assert [e.type for e in events_for(db, redemption.id)] == ["redemption.requested", "redemption.issued"]


def test_no_voucher_code_is_in_the_database_or_the_events(db, partner_id, member_id, loop, key):
    redemption = request(db, member_id, add_reward(db, partner_id))
    loop.apply(ledger_event("points.held", member_id, redemption.id))
    code = key.code_for(redemption.id)
    with db.transaction() as session:
        dump = " ".join(str(v) for v in session.execute(
            sa.select(Redemption.__table__).where(Redemption.id == redemption.id)).one())
        payloads = b" ".join(session.execute(sa.select(outbox.c.payload)).scalars())
    for form in (code, vouchers.display(code)):
        assert form not in dump and form.encode() not in payloads


def test_a_rejected_hold_releases_the_stock_and_keeps_the_reason(db, partner_id, member_id, loop):
    reward_id = add_reward(db, partner_id)
    redemption = request(db, member_id, reward_id)
    rejected = ledger_event("points.hold_rejected", member_id, redemption.id,
                            reason="insufficient_points: 30 points needed, 0 available.")
    loop.apply(rejected)
    loop.apply(ledger_event("points.hold_rejected", member_id, redemption.id, reason="insufficient_points"))
    loop.apply(ledger_event("points.held", member_id, redemption.id))
    final = state(db, redemption.id)
    assert final.status == "rejected" and final.reason.startswith("insufficient_points: 30 points")
    assert stock(db, reward_id) == 5
    assert [e.type for e in events_for(db, redemption.id)] == ["redemption.requested", "redemption.rejected"]


def test_events_for_unknown_redemptions_change_nothing(loop, member_id):
    assert loop.apply(ledger_event("points.held", member_id, uuid.uuid4())) is True
    assert loop.apply(Event.create("points.held", "points", member_id, {"member_id": member_id, "points": 5}))


def test_cancel_before_or_after_issue_returns_stock_once_and_a_late_hold_is_ignored(db, partner_id, member_id,
                                                                                       loop):
    reward_id = add_reward(db, partner_id)
    early, late = request(db, member_id, reward_id), request(db, member_id, reward_id)
    loop.apply(ledger_event("points.held", member_id, late.id))
    for redemption in (early, late, early):
        with db.transaction() as session:
            assert redemptions.cancel(session, redemption.id).status == "cancelled"
    loop.apply(ledger_event("points.held", member_id, early.id))
    assert state(db, early.id).status == "cancelled" and stock(db, reward_id) == 5
    assert [e.type for e in events_for(db, early.id)] == ["redemption.requested", "redemption.cancelled"]
    assert [e.type for e in events_for(db, late.id)][-1] == "redemption.cancelled"


def test_expiry_ends_unused_vouchers_after_their_days_and_a_timed_out_hold_does_too(db, partner_id, member_id,
                                                                                    loop):
    reward_id = add_reward(db, partner_id, voucher_valid_days=1)
    due, timed_out = request(db, member_id, reward_id), request(db, member_id, reward_id)
    for redemption in (due, timed_out):
        loop.apply(ledger_event("points.held", member_id, redemption.id))
    loop.apply(ledger_event("points.released", member_id, timed_out.id, reason="timeout"))
    assert state(db, timed_out.id).reason == "hold_released: timeout"

    issued_at = state(db, due.id).issued_at
    with db.transaction() as session:
        assert redemptions.expire_due(session, at=issued_at + timedelta(hours=23)) == 0
    with db.transaction() as session:
        assert redemptions.expire_due(session, at=issued_at + timedelta(days=1, seconds=1)) >= 1
    with db.transaction() as session:
        assert redemptions.expire_due(session, at=issued_at + timedelta(days=1, seconds=1)) == 0
    loop.apply(ledger_event("points.released", member_id, due.id, reason="expired"))
    final = state(db, due.id)
    assert (final.status, final.reason) == ("expired", "voucher_expired") and stock(db, reward_id) == 5
    assert [e.type for e in events_for(db, due.id)][-1] == "redemption.expired"
    assert [e.data["reason"] for e in events_for(db, timed_out.id)][-1] == "hold_released: timeout"


def test_redemptions_the_ledger_never_answers_are_cancelled_and_their_stock_returns(db, partner_id, member_id,
                                                                                  loop):
    reward_id = add_reward(db, partner_id)
    stale, fresh = request(db, member_id, reward_id), request(db, member_id, reward_id, at=NOW + timedelta(minutes=10))
    with db.transaction() as session:
        assert redemptions.abandon_unanswered(session, older_than=timedelta(minutes=15),
                                              at=NOW + timedelta(minutes=16)) >= 1
    assert (state(db, stale.id).status, state(db, stale.id).reason) == ("cancelled", "no_answer_from_ledger")
    assert state(db, fresh.id).status == "pending" and stock(db, reward_id) == 4
    assert [e.type for e in events_for(db, stale.id)] == ["redemption.requested", "redemption.cancelled"]
    loop.apply(ledger_event("points.held", member_id, stale.id))
    assert state(db, stale.id).status == "cancelled"


def issued_voucher(db, loop, key, partner_id, member_id, **terms):
    redemption = request(db, member_id, add_reward(db, partner_id, **terms), at=datetime.now(UTC))
    loop.apply(ledger_event("points.held", member_id, redemption.id))
    return redemption.id, vouchers.display(key.code_for(redemption.id))


def test_the_till_redeems_its_own_vouchers_once(db, partner_id, member_id, loop, key):
    redemption_id, code = issued_voucher(db, loop, key, partner_id, member_id)
    with db.transaction() as session:
        assert redemptions.validate(session, code.lower(), partner_id).status == "issued"
    with db.transaction() as session:
        redeemed = redemptions.redeem(session, vouchers.normalise(code), partner_id, by="partner:x#1")
    assert redeemed.status == "redeemed" and redeemed.redeemed_by == "partner:x#1"
    with db.transaction() as session, pytest.raises(Conflict):
        redemptions.redeem(session, code, partner_id, by="partner:x#1")
    with db.transaction() as session, pytest.raises(Conflict, match="cancelled"):
        redemptions.cancel(session, redemption_id)
    [completed] = [e for e in events_for(db, redemption_id) if e.type == "redemption.completed"]
    assert completed.subject == member_id and completed.data["cost_points"] == 30


def test_the_tills_retry_after_a_lost_answer_finds_its_own_redemption(db, partner_id, member_id, loop, key):
    """The web process died after the commit and before the till heard; the till retries with its
    Idempotency-Key once the key is released: the voucher is its own, redeemed once. Another key: used."""
    redemption_id, code = issued_voucher(db, loop, key, partner_id, member_id)
    canonical = vouchers.normalise(code)
    with db.transaction() as session:
        first = redemptions.redeem(session, canonical, partner_id, by="partner:x#1", key="till-4-receipt-1")
    with db.transaction() as session:
        again = redemptions.redeem(session, canonical, partner_id, by="partner:x#1", key="till-4-receipt-1",
                                   at=NOW + timedelta(minutes=2))
    assert again.id == first.id and again.status == "redeemed" and again.redeemed_at == first.redeemed_at
    with db.transaction() as session, pytest.raises(Conflict, match="already been used"):
        redemptions.redeem(session, canonical, partner_id, by="partner:x#1", key="till-4-receipt-2")
    with db.transaction() as session, pytest.raises(Conflict, match="already been used"):
        redemptions.redeem(session, canonical, partner_id, by="partner:x#1")
    assert [e.type for e in events_for(db, redemption_id)].count("redemption.completed") == 1


def test_another_partners_voucher_is_indistinguishable_from_an_unknown_one(db, partner_id, member_id, loop, key):
    _, code = issued_voucher(db, loop, key, partner_id, member_id)
    stranger = key.code_for(uuid.uuid4())
    for typed, partner in ((code, "someone-else"), (stranger, partner_id)):
        with db.transaction() as session, pytest.raises(NotFound) as missing:
            redemptions.validate(session, typed, partner)
        assert missing.value.detail == "No such voucher."


def test_cancelled_and_expired_vouchers_are_refused_at_the_till(db, partner_id, member_id, loop, key):
    cancelled_id, cancelled_code = issued_voucher(db, loop, key, partner_id, member_id)
    with db.transaction() as session:
        redemptions.cancel(session, cancelled_id)
    with db.transaction() as session, pytest.raises(Conflict, match="cancelled"):
        redemptions.redeem(session, cancelled_code, partner_id, by="p")
    expiring_id, expiring_code = issued_voucher(db, loop, key, partner_id, member_id)
    later = state(db, expiring_id).expires_at
    with db.transaction() as session, pytest.raises(Gone):
        redemptions.redeem(session, expiring_code, partner_id, by="p", at=later)
    with db.transaction() as session:
        redemptions.expire(session, expiring_id, "voucher_expired")
    with db.transaction() as session, pytest.raises(Gone):
        redemptions.validate(session, expiring_code, partner_id)


def test_settlement_counts_redeemed_vouchers_at_the_price_agreed_when_requested(db, partner_id, member_id, loop, key):
    coffee = add_reward(db, partner_id, settlement_pence=250)
    swim = add_reward(db, partner_id, title="Swim", funded_by="partner", settlement_pence=0)
    codes = []
    for reward_id in (coffee, coffee, swim):
        redemption = request(db, member_id, reward_id, at=datetime.now(UTC))
        loop.apply(ledger_event("points.held", member_id, redemption.id))
        codes.append(key.code_for(redemption.id))
    with db.transaction() as session:
        catalogue.update_reward(session, coffee, {"settlement_pence": 300})
    for code in codes:
        with db.transaction() as session:
            redemptions.redeem(session, code, partner_id, by="p")
    today = datetime.now(settlement.LOCAL).date()
    with db.transaction() as session:
        found = settlement.statement(session, partner_id, today, today)
        empty = settlement.statement(session, partner_id, date(2020, 1, 1), date(2020, 1, 31))
    assert [(line.reward_id, line.unit_pence, line.redeemed, line.owed_pence) for line in found.lines] == sorted(
        [(coffee, 250, 2, 500), (swim, 0, 1, 0)])
    assert (found.redeemed, found.owed_pence) == (3, 500) and empty.lines == []


def test_catalogue_rules_are_enforced_by_the_domain(db, partner_id):
    with db.transaction() as session, pytest.raises(Exception, match="settlement_pence must be 0"):
        catalogue.add_reward(session, dict(id="x", partner_id=partner_id, title="t", cost_points=1, stock=1,
                                           funded_by="partner", settlement_pence=5))
    with db.transaction() as session, pytest.raises(NotFound):
        catalogue.add_reward(session, dict(id="x", partner_id="nobody", title="t", cost_points=1, stock=1,
                                           funded_by="partner"))
    reward_id = add_reward(db, partner_id)
    with db.transaction() as session, pytest.raises(Conflict):
        catalogue.add_reward(session, dict(id=reward_id, partner_id=partner_id, title="Other", cost_points=30,
                                           stock=5, funded_by="council", settlement_pence=250,
                                           voucher_valid_days=14))
