from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from .schemas import schema_for

SPECVERSION = "1.0"


class InvalidEvent(ValueError):
    """A message that can never be handled as it stands: it belongs on the dead-letter topic."""


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    specversion = fields.String(required=True, validate=validate.Equal(SPECVERSION))
    id = fields.UUID(required=True)
    source = fields.String(required=True, validate=validate.Length(min=1))
    type = fields.String(required=True, validate=validate.Length(min=1))
    subject = fields.String(required=True, allow_none=True)
    time = fields.AwareDateTime(required=True, format="iso")
    datacontenttype = fields.String(load_default="application/json")
    data = fields.Dict(required=True)


_envelope = EnvelopeSchema()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    type: str
    source: str
    subject: str | None
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=utcnow)

    @classmethod
    def create(cls, type: str, source: str, subject: str | None, data: dict[str, Any], *,
               id: str | None = None, time: datetime | None = None) -> Event:
        """Build an event whose data has been checked against the schema for its type."""
        schema = schema_for(type)
        try:
            canonical = schema.dump(schema.load(data))
        except ValidationError as error:
            raise InvalidEvent(f"{type}: {error.messages}") from error
        return cls(type=type, source=source, subject=subject, data=canonical,
                   id=id or str(uuid.uuid4()), time=time or utcnow())

    def load_data(self) -> dict[str, Any]:
        """The data deserialised by its type's schema (datetimes, decimals…)."""
        try:
            return schema_for(self.type).load(self.data)
        except ValidationError as error:
            raise InvalidEvent(f"{self.type}: {error.messages}") from error
        except KeyError as error:
            raise InvalidEvent(f"unknown event type {self.type}") from error

    def to_dict(self) -> dict[str, Any]:
        return {
            "specversion": SPECVERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data,
        }


def encode(event: Event) -> bytes:
    return json.dumps(event.to_dict(), separators=(",", ":"), sort_keys=True).encode()


def decode(value: bytes | str) -> Event:
    try:
        raw = json.loads(value)
    except (ValueError, TypeError) as error:
        raise InvalidEvent(f"not JSON: {error}") from error
    if not isinstance(raw, dict):
        raise InvalidEvent("envelope is not a JSON object")
    try:
        loaded = _envelope.load(raw)
    except ValidationError as error:
        raise InvalidEvent(f"bad envelope: {error.messages}") from error
    return Event(type=loaded["type"], source=loaded["source"], subject=loaded["subject"],
                 data=loaded["data"], id=str(loaded["id"]), time=loaded["time"])
