import json
import uuid
from datetime import UTC, datetime

import pytest

from rewards_shared.events import Event, InvalidEvent, decode, encode
from rewards_shared.topics import dead_letter_topic, topic_for


def journey(**overrides):
    return {"member_id": "m-1", "journey_id": "j-1", "operator_id": "leeds-bus", "kind": "paired",
            "mode": "bus", "started_at": "2025-10-24T07:41:12+00:00", **overrides}


def test_round_trip_keeps_every_attribute():
    event = Event.create("transit.journey.completed", "transit-ingest", "m-1", journey())
    back = decode(encode(event))
    assert back == event
    assert json.loads(encode(event))["specversion"] == "1.0"


def test_envelope_is_cloudevents_structured_json():
    raw = json.loads(encode(Event.create("member.registered", "points", "m-1", {"member_id": "m-1"})))
    assert set(raw) == {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
    assert raw["time"].endswith("Z")
    assert uuid.UUID(raw["id"])


def test_producer_cannot_emit_data_that_breaks_the_schema():
    with pytest.raises(InvalidEvent, match="mode"):
        Event.create("transit.journey.completed", "transit-ingest", "m-1", journey(mode="rocket"))


def test_data_is_canonicalised_with_defaults():
    event = Event.create("transit.journey.completed", "transit-ingest", "m-1", journey())
    assert event.data["revision"] == 1
    assert event.data["distance_km"] is None


def test_consumers_ignore_fields_they_do_not_know():
    event = Event.create("member.registered", "points", "m-1", {"member_id": "m-1"})
    raw = json.loads(encode(event))
    raw["data"]["nickname"] = "added later"
    raw["extension"] = "x"
    assert decode(json.dumps(raw)).load_data()["member_id"] == "m-1"


@pytest.mark.parametrize("value", [b"not json", b"[]", b'{"specversion": "1.0"}',
                                   json.dumps({"specversion": "0.3", "id": str(uuid.uuid4()), "source": "x",
                                               "type": "member.registered", "subject": "m",
                                               "time": datetime.now(UTC).isoformat(), "data": {}}).encode()])
def test_malformed_messages_are_invalid_events(value):
    with pytest.raises(InvalidEvent):
        decode(value)


def test_unknown_type_fails_when_its_data_is_read():
    event = Event(type="points.teleported", source="x", subject="m", data={})
    with pytest.raises(InvalidEvent, match="unknown event type"):
        event.load_data()


def test_every_event_type_has_a_topic():
    assert topic_for("points.earned") == "ledger.events.v1"
    assert topic_for("tier.changed") == "ledger.events.v1"
    assert topic_for("redemption.issued") == "redemption.events.v1"
    assert topic_for("transit.journey.voided") == "transit.journeys.v1"
    assert dead_letter_topic("ledger.events.v1", "notifications") == "ledger.events.v1.notifications.dlq"
