"""Notifications over HTTP, with its worker process delivering to real peers on 127.0.0.1."""
from __future__ import annotations

import uuid

import pytest
from kafka import KafkaProducer

from notifications.channels.webhook import verify
from rewards_shared import devstack
from rewards_shared.events import Event, encode
from rewards_shared.service import discover
from rewards_shared.topics import topic_for
from tests.support.peers import HttpPeer, SmtpPeer
from tests.support.polling import wait_for

SECRET = "whsec-e2e"


@pytest.fixture(scope="module")
def peers(services, stack, stack_env):
    """The notifications worker restarted with email and the webhook pointed at local peers."""
    smtp, webhook = SmtpPeer().start(), HttpPeer().start()
    env = {**stack_env, "NOTIFICATIONS_SMTP_HOST": smtp.host, "NOTIFICATIONS_SMTP_PORT": str(smtp.port),
           "NOTIFICATIONS_WEBHOOK_URL": webhook.url + "/hooks", "NOTIFICATIONS_WEBHOOK_SECRET": SECRET,
           "NOTIFICATIONS_DISPATCH_SECONDS": "0.2"}
    devstack.stop_process(stack, "notifications-worker")
    devstack.services_up(stack, env, discover())
    yield smtp, webhook
    devstack.stop_process(stack, "notifications-worker")
    smtp.stop()
    webhook.stop()


@pytest.fixture(scope="module")
def publish(stack_env):
    producer = KafkaProducer(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])

    def send(event: Event) -> Event:
        producer.send(topic_for(event.type), key=event.subject.encode(), value=encode(event)).get(timeout=10)
        return event

    yield send
    producer.close()


def issued(member_id):
    return Event.create("redemption.issued", "redemption", member_id, {
        "member_id": member_id, "redemption_id": f"r-{uuid.uuid4().hex[:8]}", "reward_id": "coffee",
        "cost_points": 50, "reward_title": "Free coffee at Kirkgate Market"})


def test_contacts_and_preferences_are_kept_and_checked_field_by_field(client, member_id):
    api = client("notifications")
    assert api.get(f"/v1/members/{member_id}/contacts").status_code == 404
    contacts = {"email": f"{member_id}@example.org", "phone": "+447700900123", "push_tokens": ["device-1"]}
    saved = api.put(f"/v1/members/{member_id}/contacts", json=contacts)
    assert saved.status_code == 200, saved.text
    assert api.get(f"/v1/members/{member_id}/contacts").json() | {"updated_at": None} == \
        {**contacts, "member_id": member_id, "updated_at": None}

    defaults = api.get(f"/v1/members/{member_id}/preferences").json()
    assert defaults["locale"] == "en-GB" and defaults["channels"]["voucher_issued"]["email"] is True
    chosen = {"time_zone": "Europe/London", "quiet_hours": None,
              "digest": {"enabled": True, "below_points": 15, "at": "19:30"},
              "channels": {"points_earned": {"push": False, "email": True}}}
    stored = api.put(f"/v1/members/{member_id}/preferences", json=chosen).json()
    assert stored["quiet_hours"] is None and stored["digest"] == chosen["digest"]
    assert stored["channels"]["points_earned"] == {"email": True, "push": False, "sms": False}
    assert api.get(f"/v1/members/{member_id}/preferences").json() == stored

    bad = api.put(f"/v1/members/{member_id}/contacts", json={"email": "not-an-address", "phone": "0113 496 0000",
                                                             "push_tokens": [""], "fax": "1"})
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    assert set(bad.json()["errors"]) == {"email", "phone", "push_tokens.0", "fax"}
    bad = api.put(f"/v1/members/{member_id}/preferences", json={
        "time_zone": "Leeds/Headingley", "quiet_hours": {"start": "22:00", "end": "22:00"},
        "digest": {"at": "25:00"}, "channels": {"horoscopes": {"email": True}, "points_earned": {"pigeon": True}}})
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"time_zone", "quiet_hours.end", "digest.at", "channels.horoscopes.key",
                                         "channels.points_earned.value.pigeon"}
    assert api.get(f"/v1/members/{member_id}/preferences").json() == stored, "nothing half-applied"
    assert client("notifications", "partner:kirkgate").get(f"/v1/members/{member_id}/contacts").status_code == 403


def test_an_event_reaches_the_inbox_the_mailbox_and_the_app_backend_once(client, peers, publish, member_id):
    smtp, webhook = peers
    api = client("notifications")
    api.put(f"/v1/members/{member_id}/contacts", json={"email": f"{member_id}@example.org"})
    api.put(f"/v1/members/{member_id}/preferences", json={"quiet_hours": None})
    event = publish(issued(member_id))
    publish(event)

    inbox = wait_for(lambda: api.get(f"/v1/members/{member_id}/notifications").json()["items"], what="the inbox")
    assert [(i["type"], i["title"], i["read_at"]) for i in inbox] == [
        ("redemption.issued", "Your voucher is ready", None)]
    mail = wait_for(lambda: [m for m in smtp.messages if m["To"] == f"{member_id}@example.org"], what="the email")
    assert mail[0]["Subject"] == "Your voucher is ready"
    hook = wait_for(lambda: [r for r in webhook.received if r.json()["member_id"] == member_id], what="the webhook")
    assert verify(SECRET, hook[0].headers["Rewards-Signature"], hook[0].body)
    wait_for(lambda: {d["channel"] for d in api.get(f"/v1/members/{member_id}/deliveries").json()["items"]
                      if d["status"] == "sent"} == {"email", "webhook"}, what="both deliveries marked sent")
    assert len([m for m in smtp.messages if m["To"] == f"{member_id}@example.org"]) == 1


def test_the_inbox_pages_counts_unread_and_marks_read(client, services, publish, member_id):
    api = client("notifications")
    for _ in range(3):
        publish(issued(member_id))
    wait_for(lambda: api.get(f"/v1/members/{member_id}/notifications/unread-count").json()["unread"] == 3,
             what="three unread")
    first = api.get(f"/v1/members/{member_id}/notifications?limit=2").json()
    rest = api.get(f"/v1/members/{member_id}/notifications?limit=2&cursor={first['next_cursor']}").json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    newest = first["items"][0]["id"]

    read = api.post(f"/v1/members/{member_id}/notifications/{newest}/read")
    assert read.status_code == 200 and read.json()["read_at"]
    assert api.post(f"/v1/members/{member_id}/notifications/{newest}/read").json()["read_at"] == read.json()["read_at"]
    assert api.get(f"/v1/members/{member_id}/notifications/unread-count").json() == {"unread": 2}
    unread = api.get(f"/v1/members/{member_id}/notifications?unread=true").json()["items"]
    assert newest not in {i["id"] for i in unread} and len(unread) == 2
    assert api.post(f"/v1/members/{member_id}/notifications/read").json() == {"marked": 2}
    assert api.get(f"/v1/members/{member_id}/notifications/unread-count").json() == {"unread": 0}

    missing = api.post(f"/v1/members/{member_id}/notifications/{uuid.uuid4()}/read")
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    someone_else = api.post(f"/v1/members/other-{member_id}/notifications/{newest}/read")
    assert someone_else.status_code == 404
    assert api.get(f"/v1/members/{member_id}/notifications?cursor=nonsense").status_code == 422


def test_an_erased_member_leaves_nothing_behind(client, services, publish, member_id):
    api = client("notifications")
    api.put(f"/v1/members/{member_id}/contacts", json={"email": f"{member_id}@example.org"})
    publish(issued(member_id))
    wait_for(lambda: api.get(f"/v1/members/{member_id}/notifications").json()["items"], what="the inbox item")

    publish(Event.create("member.erased", "points", member_id, {"member_id": member_id}))
    wait_for(lambda: api.get(f"/v1/members/{member_id}/contacts").status_code == 404, what="the erasure")
    assert api.get(f"/v1/members/{member_id}/notifications").json()["items"] == []
    assert api.get(f"/v1/members/{member_id}/deliveries").json()["items"] == []
    again = api.put(f"/v1/members/{member_id}/contacts", json={"email": f"{member_id}@example.org"})
    assert again.status_code == 410 and again.headers["Content-Type"] == "application/problem+json"


def test_a_small_earning_shows_in_the_inbox_at_once_and_waits_for_the_digest_elsewhere(
        client, peers, publish, member_id):
    api = client("notifications")
    api.put(f"/v1/members/{member_id}/contacts", json={"email": f"{member_id}@example.org"})
    api.put(f"/v1/members/{member_id}/preferences", json={"channels": {"points_earned": {"email": True}}})
    event = Event.create("points.earned", "points", member_id, {"member_id": member_id, "points": 10,
                                                                 "source_type": "journey", "available": 10})
    publish(event)
    inbox = wait_for(lambda: api.get(f"/v1/members/{member_id}/notifications").json()["items"], what="the inbox")
    assert [(i["type"], i["title"]) for i in inbox] == [("points.earned", "You earned 10 points")]
    deliveries = wait_for(lambda: api.get(f"/v1/members/{member_id}/deliveries").json()["items"],
                          what="the deliveries")
    assert {(d["channel"], d["status"]) for d in deliveries} <= {("email", "held"), ("webhook", "pending"),
                                                                 ("webhook", "sent")}
    assert ("email", "held") in {(d["channel"], d["status"]) for d in deliveries}
