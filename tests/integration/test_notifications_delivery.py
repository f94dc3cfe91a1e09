"""Notifications end to end inside the worker: events on the real Kafka topics, the real consumer loop writing
inbox items and delivery rows in PostgreSQL, and the dispatcher sending to real peers on 127.0.0.1."""
from __future__ import annotations

import hashlib
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from notifications import deliveries, handlers, members
from notifications.bootstrap import TOPICS, bootstrap
from notifications.channels.webhook import verify
from notifications.deliveries import RetryPolicy
from notifications.dispatcher import Dispatcher
from notifications.models import Contact, Delivery, InboxItem, Preference
from rewards_shared import kafka
from rewards_shared.config import Settings
from rewards_shared.consumer import Backoff, ConsumerLoop
from rewards_shared.db import processed_events
from rewards_shared.events import Event, encode
from rewards_shared.topics import TopicSpec, dead_letter_topic, topic_for
from tests.integration.conftest import Running
from tests.support.peers import HttpPeer, SmtpPeer
from tests.support.polling import wait_for

WEBHOOK_SECRET = "whsec-integration"
ALL_KINDS = ("points_earned", "points_expiring", "points_expired", "tier_changed", "voucher_issued",
             "redemption_rejected", "voucher_expired")
EVERYWHERE = {kind: {"email": True, "push": True, "sms": True} for kind in ALL_KINDS}


class Peers:
    def __init__(self):
        self.smtp = SmtpPeer().start()
        self.push, self.webhook, self.sms = HttpPeer().start(), HttpPeer().start(), HttpPeer().start()

    def settings(self, **extra) -> Settings:
        env = {"NOTIFICATIONS_SMTP_HOST": self.smtp.host, "NOTIFICATIONS_SMTP_PORT": str(self.smtp.port),
               "NOTIFICATIONS_PUSH_ENDPOINT": self.push.url, "NOTIFICATIONS_PUSH_PROJECT": "leeds-rewards",
               "NOTIFICATIONS_PUSH_ACCESS_TOKEN": "push-token",
               "NOTIFICATIONS_WEBHOOK_URL": self.webhook.url + "/hooks",
               "NOTIFICATIONS_WEBHOOK_SECRET": WEBHOOK_SECRET, "NOTIFICATIONS_SMS_URL": self.sms.url + "/messages",
               "NOTIFICATIONS_SMS_API_KEY": "sms-key", "NOTIFICATIONS_SEND_TIMEOUT_SECONDS": "2", **extra}
        return Settings.from_env("notifications", env)

    def mail_to(self, address):
        return [m for m in self.smtp.messages if m["To"] == address]

    def pushes_to(self, token):
        return [r.json()["message"] for r in self.push.received if r.json()["message"]["token"] == token]

    def hooks_for(self, member_id):
        return [r for r in self.webhook.received if r.json()["member_id"] == member_id]

    def texts_to(self, phone):
        return [r.json() for r in self.sms.received if r.json()["to"] == phone]

    def stop(self):
        self.smtp.stop()
        for peer in (self.push, self.webhook, self.sms):
            peer.stop()


@pytest.fixture(scope="module")
def peers():
    started = Peers()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def database(databases):
    return databases("notifications")


@pytest.fixture(scope="module")
def consumer(infra, database, peers):
    name = f"notifications-it-{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(infra.bootstrap, tuple(TopicSpec(dead_letter_topic(t, name), partitions=1) for t in TOPICS))
    rt = bootstrap(peers.settings(), database=database)
    loop = ConsumerLoop(name=name, topics=TOPICS, handlers=handlers.build(rt), database=database,
                        consumer_factory=lambda: kafka.consumer(infra.bootstrap, name, name),
                        producer_factory=lambda: kafka.producer(infra.bootstrap, name + "-dlq"),
                        backoff=Backoff(initial=0.05, maximum=0.5), poll_timeout_ms=100)
    with Running(loop):
        wait_for(loop.ready.is_set, timeout=60, what="the consumer to join")
        yield loop


@pytest.fixture(scope="module")
def publish(infra):
    producer = KafkaProducer(bootstrap_servers=infra.bootstrap)

    def send(event: Event) -> Event:
        producer.send(topic_for(event.type), key=event.subject.encode(), value=encode(event)).get(timeout=10)
        return event

    yield send
    producer.close()


class Clock:
    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


def dispatcher(database, peers, *, clock=None, policy=None, **extra) -> Dispatcher:
    configured = bootstrap(peers.settings(**extra), database=database).channels
    return Dispatcher(database, configured, clock=clock or Clock(), batch=1000,
                      policy=policy or RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=1)))


def drain(sender: Dispatcher) -> None:
    """Every round each channel has due, including backlog from events other tests left on the topics."""
    for name in sender.channels:
        while sender.dispatch(name):
            pass


def reachable_member(database, member_id, **chosen):
    phone = "+4477" + str(int(hashlib.sha256(member_id.encode()).hexdigest(), 16))[:8]
    with database.transaction() as session:
        members.set_contacts(session, member_id, email=f"{member_id}@example.org", phone=phone,
                             push_tokens=[f"token-{member_id}"])
        members.set_preferences(session, member_id, {"channels": EVERYWHERE, "quiet_hours": None, "digest": None,
                                                     **chosen})
    return {"email": f"{member_id}@example.org", "phone": phone, "token": f"token-{member_id}"}


def earned(member_id, points, **data):
    return Event.create("points.earned", "points", member_id,
                        {"member_id": member_id, "points": points, "source_type": "journey", **data})


def redemption(event_type, member_id, **data):
    return Event.create(event_type, "redemption", member_id, {
        "member_id": member_id, "redemption_id": f"r-{uuid.uuid4().hex[:8]}", "reward_id": "swim",
        "cost_points": 150, "reward_title": "Leisure centre swim", **data})


def every_kind(member_id) -> list[Event]:
    return [
        earned(member_id, 50, available=50),
        Event.create("points.expiring_soon", "points", member_id, {"member_id": member_id, "points": 30,
                                                                   "expires_at": "2026-12-24T00:00:00Z"}),
        Event.create("points.expired", "points", member_id, {"member_id": member_id, "points": -30}),
        Event.create("tier.changed", "points", member_id, {"member_id": member_id, "tier": "silver",
                                                          "lifetime_earned": 500}),
        redemption("redemption.issued", member_id, expires_at="2026-12-31T12:00:00Z"),
        redemption("redemption.rejected", member_id, reason="out_of_stock"),
        redemption("redemption.expired", member_id),
    ]


def inbox_of(database, member_id):
    with database.transaction() as session:
        return session.execute(sa.select(InboxItem).where(InboxItem.member_id == member_id)
                               .order_by(InboxItem.seq)).scalars().all()


def deliveries_of(database, member_id, **where):
    with database.transaction() as session:
        query = sa.select(Delivery).where(Delivery.member_id == member_id)
        for key, value in where.items():
            query = query.where(getattr(Delivery, key) == value)
        return session.execute(query.order_by(Delivery.seq)).scalars().all()


def handled(database, consumer, event) -> bool:
    with database.transaction() as session:
        return session.execute(sa.select(processed_events).where(
            processed_events.c.consumer == consumer.name,
            processed_events.c.event_id == uuid.UUID(event.id))).first() is not None


def test_every_kind_of_message_reaches_every_channel(database, peers, consumer, publish, member_id):
    reach = reachable_member(database, member_id)
    events = [publish(event) for event in every_kind(member_id)]
    wait_for(lambda: len(inbox_of(database, member_id)) == len(events), what="an inbox item per event")
    wait_for(lambda: len(deliveries_of(database, member_id)) == 4 * len(events), what="four deliveries per event")

    sender = dispatcher(database, peers)
    drain(sender)

    titles = sorted(item.title for item in inbox_of(database, member_id))
    assert titles == sorted(["You earned 50 points", "30 points expiring soon", "30 points have expired",
                             "You're now Silver", "Your voucher is ready", "We couldn't get your reward",
                             "Your voucher has expired"])
    mail = peers.mail_to(reach["email"])
    assert sorted(m["Subject"] for m in mail) == sorted(titles)
    voucher_mail = next(m for m in mail if m["Subject"] == "Your voucher is ready")
    assert voucher_mail.get_body(("plain",)).get_content().startswith("Your voucher for Leisure centre swim")
    assert "<strong>Leisure centre swim</strong>" in voucher_mail.get_body(("html",)).get_content()
    pushes = peers.pushes_to(reach["token"])
    assert sorted(p["notification"]["title"] for p in pushes) == sorted(titles)
    assert all(r.path == "/v1/projects/leeds-rewards/messages:send"
               and r.headers["Authorization"] == "Bearer push-token" for r in peers.push.received)
    hooks = peers.hooks_for(member_id)
    assert sorted(h.json()["title"] for h in hooks) == sorted(titles)
    assert all(verify(WEBHOOK_SECRET, h.headers["Rewards-Signature"], h.body) for h in hooks)
    texts = peers.texts_to(reach["phone"])
    assert len(texts) == len(titles) and all(t["from"] == "LeedsReward" for t in texts)
    assert {d.status for d in deliveries_of(database, member_id)} == {"sent"}


def test_a_redelivered_event_never_makes_a_second_message(infra, database, peers, consumer, publish, member_id):
    reach = reachable_member(database, member_id)
    event = earned(member_id, 40)
    publish(event)
    publish(event)
    wait_for(lambda: handled(database, consumer, event), what="the event")
    drain(dispatcher(database, peers))

    replay = ConsumerLoop(name=consumer.name, topics=TOPICS, handlers=consumer.handlers, database=database,
                          consumer_factory=lambda: kafka.consumer(infra.bootstrap, f"replay-{uuid.uuid4().hex}", "r"),
                          producer_factory=lambda: kafka.producer(infra.bootstrap, "replay-dlq"), poll_timeout_ms=100)
    marker = earned(member_id, 45)
    with Running(replay):
        wait_for(replay.ready.is_set, timeout=60, what="a consumer reading the topics from the start")
        publish(event)
        publish(marker)
        wait_for(lambda: len(inbox_of(database, member_id)) == 2, timeout=60, what="the marker event")
    drain(dispatcher(database, peers))

    assert [item.title for item in inbox_of(database, member_id)] == ["You earned 40 points", "You earned 45 points"]
    assert sorted(m["Subject"] for m in peers.mail_to(reach["email"])) == ["You earned 40 points",
                                                                           "You earned 45 points"]
    assert len(peers.pushes_to(reach["token"])) == 2 and len(peers.hooks_for(member_id)) == 2


def test_quiet_hours_defer_messages_until_they_end_and_never_drop_them(database, peers, consumer, publish, member_id):
    tokyo = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    start, end = (tokyo - timedelta(hours=1)).strftime("%H:%M"), (tokyo + timedelta(hours=2)).strftime("%H:%M")
    reach = reachable_member(database, member_id, time_zone="Asia/Tokyo", quiet_hours={"start": start, "end": end})
    event = publish(redemption("redemption.issued", member_id))
    wait_for(lambda: handled(database, consumer, event), what="the voucher event")
    assert [item.title for item in inbox_of(database, member_id)] == ["Your voucher is ready"]

    clock = Clock()
    sender = dispatcher(database, peers, clock=clock)
    drain(sender)
    assert len(peers.hooks_for(member_id)) == 1, "the app backend is told at once"
    assert peers.mail_to(reach["email"]) == [] and peers.pushes_to(reach["token"]) == []
    waiting = deliveries_of(database, member_id, status="pending")
    assert {d.channel for d in waiting} == {"email", "push", "sms"}
    assert {d.not_before.astimezone(tokyo.tzinfo).strftime("%H:%M") for d in waiting} == {end}

    clock.advance(hours=2, minutes=1)
    drain(sender)
    assert len(peers.mail_to(reach["email"])) == 1 and len(peers.pushes_to(reach["token"])) == 1
    assert len(peers.texts_to(reach["phone"])) == 1


def test_small_earnings_arrive_as_one_daily_digest_and_critical_messages_skip_it(
        database, peers, consumer, publish, member_id):
    digest_at = (datetime.now(UTC) + timedelta(hours=1)).strftime("%H:%M")
    reach = reachable_member(database, member_id, time_zone="UTC",
                             digest={"enabled": True, "below_points": 20, "at": digest_at})
    events = [earned(member_id, 5), earned(member_id, 7, source_type="volunteering"), earned(member_id, 3),
              earned(member_id, 60), redemption("redemption.issued", member_id)]
    for event in events:
        publish(event)
    wait_for(lambda: all(handled(database, consumer, e) for e in events), what="all five events")
    assert len(inbox_of(database, member_id)) == 5, "the inbox shows every earning at once"

    clock = Clock()
    sender = dispatcher(database, peers, clock=clock)
    drain(sender)
    assert sorted(m["Subject"] for m in peers.mail_to(reach["email"])) == ["You earned 60 points",
                                                                           "Your voucher is ready"]
    assert len(deliveries_of(database, member_id, status="held")) == 9

    clock.advance(hours=1, minutes=1)
    for _ in range(2):
        with database.transaction() as session:
            deliveries.gather_digests(session, clock(), members.preferences_of)
    drain(sender)
    digest_mail = [m for m in peers.mail_to(reach["email"]) if "today" in m["Subject"]]
    assert [m["Subject"] for m in digest_mail] == ["You earned 15 points today"]
    assert "5 points for your journey; 7 points for volunteering; 3 points for your journey." in \
        digest_mail[0].get_body(("plain",)).get_content()
    assert [p["notification"]["title"] for p in peers.pushes_to(reach["token"])].count(
        "You earned 15 points today") == 1
    assert len(deliveries_of(database, member_id, status="digested")) == 9
    assert len(deliveries_of(database, member_id, kind="points_digest", status="sent")) == 3


def test_failures_are_retried_with_backoff_then_marked_failed_and_shown(
        database, peers, consumer, publish, member_id, settings_for, issue_token):
    reach = reachable_member(database, member_id)
    peers.webhook.respond = lambda r: (503, {}) if r.json()["member_id"] == member_id else (200, {})
    peers.push.respond = lambda r: ((404, {"error": {"status": "NOT_FOUND", "details": [
        {"errorCode": "UNREGISTERED"}]}}) if r.json()["message"]["token"] == reach["token"] else (200, {}))
    try:
        event = publish(redemption("redemption.rejected", member_id, reason="insufficient_points"))
        wait_for(lambda: handled(database, consumer, event), what="the event")
        clock = Clock()
        sender = dispatcher(database, peers, clock=clock,
                            policy=RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=10)))
        sender.dispatch("webhook")
        sender.dispatch("push")
        (hook,) = deliveries_of(database, member_id, channel="webhook")
        assert (hook.status, hook.attempts, hook.last_error) == ("pending", 1, "app backend answered 503")
        assert hook.next_attempt_at == clock() + timedelta(seconds=10)
        clock.advance(seconds=9)
        assert sender.dispatch("webhook") == 0 and len(peers.hooks_for(member_id)) == 1, "not before the backoff"
        clock.advance(seconds=1)
        sender.dispatch("webhook")
        (hook,) = deliveries_of(database, member_id, channel="webhook")
        assert hook.attempts == 2 and hook.next_attempt_at == clock() + timedelta(seconds=20)
        clock.advance(seconds=20)
        sender.dispatch("webhook")
        (hook,) = deliveries_of(database, member_id, channel="webhook")
        assert (hook.status, hook.attempts) == ("failed", 3)
        clock.advance(hours=1)
        sender.dispatch("webhook")
        assert len(peers.hooks_for(member_id)) == 3

        (push,) = deliveries_of(database, member_id, channel="push")
        assert (push.status, push.attempts, push.last_error) == ("failed", 1, "push gateway answered 404 UNREGISTERED")
        with database.transaction() as session:
            assert session.get(Contact, member_id).push_tokens == [], "an unregistered token is forgotten"
        sender.dispatch("email")
        sender.dispatch("sms")
        assert len(peers.mail_to(reach["email"])) == 1, "the other channels were not held up"
    finally:
        peers.webhook.respond = peers.push.respond = lambda r: (200, {"name": "messages/1"})

    from notifications.app import create_app

    web = create_app(bootstrap(settings_for("notifications"))).test_client()
    support = {"Authorization": f"Bearer {issue_token('support')}"}
    failed = web.get("/v1/deliveries?status=failed&limit=200", headers=support).get_json()["items"]
    assert {(d["member_id"], d["channel"]) for d in failed} >= {(member_id, "webhook"), (member_id, "push")}
    app = {"Authorization": f"Bearer {issue_token('app')}"}
    mine = web.get(f"/v1/members/{member_id}/deliveries", headers=app).get_json()["items"]
    assert {(d["channel"], d["status"], d["attempts"]) for d in mine} == {
        ("webhook", "failed", 3), ("push", "failed", 1), ("email", "sent", 1), ("sms", "sent", 1)}
    assert reach["email"] not in str(mine) and reach["phone"] not in str(mine)
    assert web.get("/v1/deliveries", headers=app).status_code == 403


class Blackhole:
    """Accepts TCP connections and never says a word: an SMTP server that has hung."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self):
        for connection in self.accepted:
            connection.close()
        self.socket.close()


def test_a_channel_that_hangs_holds_up_neither_the_consumer_nor_the_other_channels(
        database, peers, consumer, publish, member_id):
    reach = reachable_member(database, member_id)
    hung = Blackhole()
    try:
        first = publish(earned(member_id, 30))
        wait_for(lambda: handled(database, consumer, first), what="the first event")
        sender = dispatcher(database, peers, NOTIFICATIONS_SMTP_PORT=str(hung.port),
                            NOTIFICATIONS_SEND_TIMEOUT_SECONDS="3")
        sender.tick()
        wait_for(lambda: len(peers.pushes_to(reach["token"])) == 1 and len(peers.texts_to(reach["phone"])) == 1,
                 timeout=2.5, what="push and SMS while email hangs")
        second = publish(earned(member_id, 35))
        wait_for(lambda: handled(database, consumer, second), timeout=2.5, what="the consumer, while email hangs")
        (email,) = wait_for(lambda: [d for d in deliveries_of(database, member_id, channel="email")
                                     if d.last_error], timeout=10, what="the email attempt to time out")
        assert email.status == "pending" and email.last_error.startswith("SMTP server unreachable")
        sender.close()
    finally:
        hung.close()


def test_member_erased_removes_contacts_preferences_inbox_and_deliveries(database, consumer, publish, member_id,
                                                                         peers):
    reachable_member(database, member_id)
    before = publish(earned(member_id, 25))
    wait_for(lambda: handled(database, consumer, before), what="an earlier event")
    assert inbox_of(database, member_id) and deliveries_of(database, member_id)

    publish(Event.create("member.erased", "points", member_id, {"member_id": member_id}))
    late = publish(earned(member_id, 30))
    wait_for(lambda: handled(database, consumer, late), what="an event after the erasure")
    with database.transaction() as session:
        assert session.get(Contact, member_id) is None and session.get(Preference, member_id) is None
        assert bootstrap(peers.settings(), database=database).tombstones.is_erased(session, member_id)
    assert inbox_of(database, member_id) == [] and deliveries_of(database, member_id) == []
