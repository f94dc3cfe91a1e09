"""The event contract: a CloudEvents envelope and one marshmallow schema per event type."""
from .envelope import Event, InvalidEvent, decode, encode
from .schemas import SCHEMAS, schema_for

__all__ = ["Event", "InvalidEvent", "decode", "encode", "SCHEMAS", "schema_for"]
