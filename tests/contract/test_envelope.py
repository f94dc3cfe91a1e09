"""The envelope every event travels in: CloudEvents 1.0, structured JSON mode, as DESIGN.md lists it."""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rewards_shared.events import SCHEMAS, Event, decode, encode
from rewards_shared.events.json_schema import document

from . import samples

ATTRIBUTES = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
DATA = document()["$defs"]


def an_event(event_type: str, **kwargs) -> Event:
    data = samples.full(DATA[event_type])
    return Event.create(event_type, "points", data.get("member_id"), data, **kwargs)


@pytest.mark.parametrize("event_type", list(SCHEMAS))
def test_an_encoded_event_round_trips(event_type):
    event = an_event(event_type)
    back = decode(encode(event))
    assert back == event
    assert back.load_data() == event.load_data()
    assert encode(back) == encode(event)


@pytest.mark.parametrize("event_type", list(SCHEMAS))
def test_the_message_carries_exactly_the_cloudevents_attributes(event_type):
    event = an_event(event_type)
    raw = json.loads(encode(event))
    assert set(raw) == ATTRIBUTES
    assert raw["specversion"] == "1.0"
    assert str(uuid.UUID(raw["id"])) == raw["id"] == event.id
    assert raw["source"] == "points"
    assert raw["type"] == event_type
    assert raw["subject"] == event.data.get("member_id")
    assert RFC3339_UTC.match(raw["time"]), raw["time"]
    assert raw["datacontenttype"] == "application/json"
    assert raw["data"] == event.data


def test_the_subject_is_the_member_and_the_time_is_utc_to_the_microsecond():
    at = datetime(2026, 3, 1, 8, 15, 0, 250_000, tzinfo=UTC)
    event = Event.create("member.registered", "points", "m-0001", {"member_id": "m-0001"}, time=at,
                         id="0b8f7c1e-7d1a-4f53-9e3a-2c4b6d8f0a1e")
    raw = json.loads(encode(event))
    assert (raw["subject"], raw["time"], raw["id"]) == ("m-0001", "2026-03-01T08:15:00.250000Z",
                                                        "0b8f7c1e-7d1a-4f53-9e3a-2c4b6d8f0a1e")
    assert decode(encode(event)).time == at


def test_each_event_has_its_own_id():
    assert len({an_event("points.earned").id for _ in range(100)}) == 100


def test_the_message_is_one_compact_json_object_with_sorted_keys():
    """Structured mode: the message value is the whole event; the same event always encodes the same."""
    value = encode(an_event("points.earned"))
    assert isinstance(value, bytes)
    assert value == json.dumps(json.loads(value), separators=(",", ":"), sort_keys=True).encode()


def test_an_event_stamped_in_another_zone_is_sent_in_utc():
    at = datetime(2026, 3, 1, 9, 15, tzinfo=timezone(timedelta(hours=1)))
    raw = json.loads(encode(Event.create("member.registered", "points", "m-0001", {"member_id": "m-0001"}, time=at)))
    assert raw["time"] == "2026-03-01T08:15:00Z"
