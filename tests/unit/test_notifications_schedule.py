"""Preferences, quiet hours in the member's time zone, the digest, and which deliveries a notice becomes."""
from datetime import UTC, datetime, timedelta

import pytest

from notifications.catalogue import notice_for
from notifications.deliveries import RetryPolicy, plan
from notifications.models import Contact
from notifications.preferences import Schedule, effective

EVERYWHERE = {kind: {"email": True, "push": True, "sms": True} for kind in
              ("points_earned", "voucher_issued", "redemption_rejected", "points_expiring")}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def document(**chosen):
    return effective({"channels": EVERYWHERE, **chosen})


def contact(**values):
    return Contact(member_id="m", email=values.get("email", "m@example.org"),
                   phone=values.get("phone", "+447700900123"),
                   push_tokens=values.get("push_tokens", ["device-a", "device-b"]))


def earned(points):
    return notice_for("points.earned", {"member_id": "m", "points": points, "source_type": "journey"})


def voucher():
    return notice_for("redemption.issued", {"member_id": "m", "redemption_id": "r", "reward_id": "x",
                                            "cost_points": 100})


ALL = frozenset({"email", "push", "sms", "webhook"})


def test_defaults_fill_what_the_member_did_not_choose():
    chosen = effective({"time_zone": "Europe/Paris", "channels": {"points_earned": {"email": True}}})
    assert chosen["time_zone"] == "Europe/Paris" and chosen["locale"] == "en-GB"
    assert chosen["channels"]["points_earned"] == {"email": True, "push": True, "sms": False}
    assert chosen["channels"]["voucher_issued"] == {"email": True, "push": True, "sms": False}
    assert chosen["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert effective({"quiet_hours": None})["quiet_hours"] is None


@pytest.mark.parametrize("moment, quiet", [
    ("2026-11-24T20:59:00+00:00", False), ("2026-11-24T21:00:00+00:00", True),
    ("2026-11-25T03:00:00+00:00", True), ("2026-11-25T08:00:00+00:00", False),
])
def test_overnight_quiet_hours(moment, quiet):
    schedule = Schedule.of(effective({}))
    assert schedule.is_quiet(at(moment)) is quiet


def test_quiet_hours_are_in_the_members_time_zone_and_defer_to_their_end():
    schedule = Schedule.of(effective({"time_zone": "America/New_York",
                                      "quiet_hours": {"start": "22:00", "end": "07:00"}}))
    late_evening_in_new_york = at("2026-11-25T04:30:00+00:00")
    assert schedule.is_quiet(late_evening_in_new_york)
    assert schedule.release(late_evening_in_new_york) == at("2026-11-25T07:00:00-05:00")
    midday = at("2026-11-25T17:00:00+00:00")
    assert schedule.release(midday) == midday


def test_daytime_quiet_hours_and_clock_changes():
    schedule = Schedule.of(effective({"quiet_hours": {"start": "00:30", "end": "07:30"}}))
    night_the_clocks_go_back = at("2026-10-25T01:15:00+00:00")
    assert schedule.release(night_the_clocks_go_back) == at("2026-10-25T07:30:00+00:00")
    summer_night = at("2026-07-01T01:00:00+00:00")
    assert schedule.release(summer_night) == at("2026-07-01T07:30:00+01:00")


def test_the_digest_is_due_at_the_next_local_digest_time():
    schedule = Schedule.of(effective({"digest": {"enabled": True, "below_points": 20, "at": "18:00"}}))
    assert schedule.next_digest(at("2026-11-24T09:00:00+00:00")) == at("2026-11-24T18:00:00+00:00")
    assert schedule.next_digest(at("2026-11-24T18:00:00+00:00")) == at("2026-11-25T18:00:00+00:00")
    assert schedule.digests(19) and not schedule.digests(20) and not schedule.digests(None)
    assert not Schedule.of(effective({"digest": None})).digests(1)


def test_a_notice_goes_to_every_wanted_channel_and_each_device_and_the_webhook_at_once():
    now = at("2026-11-24T12:00:00+00:00")
    planned = plan(earned(50), document(), contact(), ALL, now)
    assert sorted((p.channel, p.target) for p in planned) == [
        ("email", None), ("push", "device-a"), ("push", "device-b"), ("sms", None), ("webhook", None)]
    assert {(p.status, p.not_before) for p in planned} == {("pending", now)}


def test_channels_switched_off_unconfigured_or_without_an_address_get_nothing():
    now = at("2026-11-24T12:00:00+00:00")
    switched = document(channels={**EVERYWHERE, "points_earned": {"email": False, "push": True, "sms": False}})
    assert [p.channel for p in plan(earned(50), switched, contact(push_tokens=[]), ALL, now)] == ["webhook"]
    assert plan(earned(50), document(), None, frozenset({"email", "push"}), now) == []
    assert [p.channel for p in plan(earned(50), document(), contact(email=None, push_tokens=[]),
                                    frozenset({"email", "sms"}), now)] == ["sms"]


def test_small_earnings_wait_for_the_digest_but_critical_messages_do_not():
    now = at("2026-11-24T12:00:00+00:00")
    small = plan(earned(5), document(), contact(), ALL, now)
    assert {(p.channel, p.status, p.not_before) for p in small} == {
        ("webhook", "pending", now), ("email", "held", at("2026-11-24T18:00:00+00:00")),
        ("push", "held", at("2026-11-24T18:00:00+00:00")), ("sms", "held", at("2026-11-24T18:00:00+00:00"))}
    assert {p.status for p in plan(voucher(), document(), contact(), ALL, now)} == {"pending"}
    assert {p.status for p in plan(earned(5), document(digest=None), contact(), ALL, now)} == {"pending"}


def test_quiet_hours_defer_member_channels_not_the_app_backend():
    late = at("2026-11-24T22:30:00+00:00")
    planned = {p.channel: p.not_before for p in plan(voucher(), document(), contact(push_tokens=["d"]), ALL, late)}
    assert planned == {"webhook": late, "email": at("2026-11-25T08:00:00+00:00"),
                       "push": at("2026-11-25T08:00:00+00:00"), "sms": at("2026-11-25T08:00:00+00:00")}


def test_retries_back_off_exponentially_up_to_a_ceiling():
    policy = RetryPolicy(max_attempts=6, first_delay=timedelta(seconds=30), longest_delay=timedelta(minutes=5))
    assert [policy.delay(n).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 300, 300]
