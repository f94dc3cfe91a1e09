"""Templates: every kind renders in British English, in plain text and HTML, with locale fallback."""
import pytest

from notifications.catalogue import KINDS, NOTIFYING_EVENTS, notice_for
from notifications.templates import Templates

EVENTS = {
    "points.earned": {"member_id": "m", "points": 10, "source_type": "journey", "available": 25},
    "points.expiring_soon": {"member_id": "m", "points": 40, "expires_at": "2026-12-01T23:30:00+00:00"},
    "points.expired": {"member_id": "m", "points": -40, "available": 5},
    "tier.changed": {"member_id": "m", "tier": "gold", "previous_tier": "silver", "lifetime_earned": 1000},
    "redemption.issued": {"member_id": "m", "redemption_id": "r1", "reward_id": "swim", "cost_points": 150,
                          "reward_title": "Leisure centre swim", "expires_at": "2026-12-24T12:00:00+00:00"},
    "redemption.rejected": {"member_id": "m", "redemption_id": "r2", "reward_id": "swim", "cost_points": 150,
                            "reward_title": "Leisure centre swim", "reason": "insufficient_points"},
    "redemption.expired": {"member_id": "m", "redemption_id": "r3", "reward_id": "coffee", "cost_points": 50,
                           "reward_title": "Free coffee"},
    "challenge.progressed": {"member_id": "m", "challenge_id": "nov-bus", "title": "10 bus journeys in November",
                             "kind": "count", "progress": 3, "goal": 10},
    "challenge.completed": {"member_id": "m", "challenge_id": "nov-bus", "title": "10 bus journeys in November",
                            "kind": "count", "progress": 10, "goal": 10, "bonus_points": 100,
                            "completed_at": "2026-11-20T08:00:00+00:00"},
}

EXPECTED_TITLES = {
    "points.earned": "You earned 10 points",
    "points.expiring_soon": "40 points expiring soon",
    "points.expired": "40 points have expired",
    "tier.changed": "You're now Gold",
    "redemption.issued": "Your voucher is ready",
    "redemption.rejected": "We couldn't get your reward",
    "redemption.expired": "Your voucher has expired",
    "challenge.progressed": "10 bus journeys in November: 3 of 10",
    "challenge.completed": "Challenge complete: 10 bus journeys in November",
}


def load(event_type):
    from rewards_shared.events.schemas import schema_for

    return schema_for(event_type).load(EVENTS[event_type])


@pytest.fixture(scope="module")
def templates():
    return Templates()


def test_every_notifying_event_has_a_sample_here():
    assert set(NOTIFYING_EVENTS) == set(EVENTS)


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_every_kind_renders_a_title_a_plain_body_and_html(templates, event_type):
    notice = notice_for(event_type, load(event_type))
    rendered = templates.render(notice.kind.name, notice.context)
    assert rendered.title == EXPECTED_TITLES[event_type]
    assert rendered.body and "{" not in rendered.body
    assert rendered.html.startswith("<!doctype html>") and "<h1 style=\"font-size: 20px;\">" in rendered.html


def test_points_earned_reads_as_before_and_singular_is_singular(templates):
    notice = notice_for("points.earned", load("points.earned"))
    body = templates.render(notice.kind.name, notice.context).body
    assert body == "You earned 10 points for your journey. Your balance is now 25 points."
    one = templates.render("points_earned", {**notice.context, "points": 1, "available": None})
    assert one.title == "You earned 1 point" and one.body == "You earned 1 point for your journey."


def test_challenges_say_how_far_and_what_the_bonus_is(templates):
    progressed = notice_for("challenge.progressed", load("challenge.progressed"))
    assert templates.render(progressed.kind.name, progressed.context).body == (
        'You\'re 3 of 10 into "10 bus journeys in November". Keep going!')
    streak = templates.render("challenge_progressed", {**progressed.context, "kind": "streak", "progress": 2,
                                                       "goal": 4, "challenge": "A green journey a week"})
    assert streak.body == 'Your streak in "A green journey a week" is 2 of 4. Keep going!'
    completed = notice_for("challenge.completed", load("challenge.completed"))
    assert templates.render(completed.kind.name, completed.context).body == (
        'You\'ve completed "10 bus journeys in November". 100 points are on their way to your balance. Well done!')


def test_dates_are_long_british_dates_in_the_members_time_zone(templates):
    notice = notice_for("points.expiring_soon", load("points.expiring_soon"))
    london = templates.render(notice.kind.name, notice.context, time_zone="Europe/London").body
    tokyo = templates.render(notice.kind.name, notice.context, time_zone="Asia/Tokyo").body
    assert "on 1 December 2026" in london and "on 2 December 2026" in tokyo


def test_reasons_are_explained_in_words(templates):
    notice = notice_for("redemption.rejected", load("redemption.rejected"))
    body = templates.render(notice.kind.name, notice.context).body
    assert body == ("We couldn't get Leisure centre swim for you: you don't have enough points. "
                    "No points have been taken.")


def test_a_reason_with_detail_reads_as_one_sentence(templates):
    context = {**notice_for("redemption.rejected", load("redemption.rejected")).context,
               "reason": "insufficient_points: 30 points needed, 25 available."}
    rendered = templates.render("redemption_rejected", context)
    assert rendered.body == ("We couldn't get Leisure centre swim for you: you don't have enough points "
                             "(30 points needed, 25 available). No points have been taken.")
    assert "insufficient_points" not in rendered.html and ".." not in rendered.html


def test_html_escapes_what_came_from_elsewhere_and_text_keeps_it_plain(templates):
    context = {**notice_for("redemption.issued", load("redemption.issued")).context,
               "reward_title": "<script>alert(1)</script>"}
    rendered = templates.render("voucher_issued", context)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.body


def test_the_digest_lists_each_small_earning(templates):
    rendered = templates.render("points_digest", {"entries": [{"points": 5, "source_type": "journey"},
                                                              {"points": 10, "source_type": "volunteering"}],
                                                  "total": 15, "available": 40})
    assert rendered.title == "You earned 15 points today"
    assert rendered.body == ("You earned 15 points today: 5 points for your journey; 10 points for volunteering. "
                             "Your balance is now 40 points.")


def test_unknown_locales_fall_back_to_their_language_then_british_english(tmp_path):
    for locale, title in (("en-GB", "Hello"), ("cy", "Shwmae")):
        (tmp_path / locale).mkdir()
        (tmp_path / locale / "points_earned.txt").write_text(
            "{% block title %}" + title + "{% endblock %}{% block body %}{{ points }}{% endblock %}")
        (tmp_path / locale / "points_earned.html").write_text("<p>{{ title }}</p>")
    templates = Templates(tmp_path)
    assert templates.render("points_earned", {"points": 3}, "cy-GB").title == "Shwmae"
    assert templates.render("points_earned", {"points": 3}, "fr-FR").title == "Hello"
    assert templates.render("points_earned", {"points": 3}, None).html == "<p>Hello</p>"


def test_critical_kinds_are_the_voucher_and_the_refusal():
    assert {name for name, kind in KINDS.items() if kind.critical} == {"voucher_issued", "redemption_rejected"}
    assert notice_for("points.hold_rejected", {"member_id": "m"}) is None
