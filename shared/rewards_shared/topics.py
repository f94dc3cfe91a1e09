"""Topic names and the topic each event type travels on."""
from __future__ import annotations

from dataclasses import dataclass

TRANSIT_JOURNEYS = "transit.journeys.v1"
VOLUNTEERING_ATTENDANCES = "volunteering.attendances.v1"
LEDGER_EVENTS = "ledger.events.v1"
REDEMPTION_EVENTS = "redemption.events.v1"
MEMBERS = "members.v1"
CREDENTIALS = "credentials.v1"
ACTIVITIES = "activities.v1"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    config: tuple[tuple[str, str], ...] = ()


TOPICS = (
    TopicSpec(TRANSIT_JOURNEYS),
    TopicSpec(VOLUNTEERING_ATTENDANCES),
    TopicSpec(LEDGER_EVENTS),
    TopicSpec(REDEMPTION_EVENTS),
    TopicSpec(MEMBERS),
    TopicSpec(ACTIVITIES),
    TopicSpec(CREDENTIALS, partitions=1, config=(("cleanup.policy", "compact"),)),
)

_BY_PREFIX = {
    "transit.": TRANSIT_JOURNEYS,
    "volunteering.": VOLUNTEERING_ATTENDANCES,
    "points.": LEDGER_EVENTS,
    "tier.": LEDGER_EVENTS,
    "challenge.": LEDGER_EVENTS,
    "redemption.": REDEMPTION_EVENTS,
    "member.": MEMBERS,
    "credential.": CREDENTIALS,
    "activity.": ACTIVITIES,
}


def topic_for(event_type: str) -> str:
    for prefix, topic in _BY_PREFIX.items():
        if event_type.startswith(prefix):
            return topic
    raise KeyError(f"no topic carries {event_type}")


def dead_letter_topic(topic: str, group: str) -> str:
    return f"{topic}.{group}.dlq"
