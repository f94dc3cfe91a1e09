"""Event data made from the checked-in JSON Schema alone, as a service written in another language would."""
from __future__ import annotations

from typing import Any

VALUES_BY_FORMAT = {"date-time": "2026-03-01T08:15:00+00:00", "uuid": "3b6c0f0e-2a4d-4e8f-9b1c-5d7e9f0a1b2c"}
VALUES_BY_TYPE = {"string": "s-1", "integer": 1, "number": 2.5, "boolean": True, "object": {}, "array": []}
WRONG_JSON_TYPE = {"string": 12345, "integer": "not a number", "number": "not a number", "boolean": "yes",
                   "object": "not an object", "array": "not an array"}


def types_of(field: dict[str, Any]) -> list[str]:
    declared = field.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def value_for(field: dict[str, Any]) -> Any:
    enum = [value for value in field.get("enum", ()) if value is not None]
    if enum:
        return enum[0]
    if "format" in field:
        return VALUES_BY_FORMAT[field["format"]]
    kind = next(kind for kind in types_of(field) if kind != "null")
    if kind == "string":
        return "s" * max(field.get("minLength", 1), 1)
    if kind in ("integer", "number") and "minimum" in field:
        return field["minimum"]
    return VALUES_BY_TYPE[kind]


def minimal(schema: dict[str, Any]) -> dict[str, Any]:
    """Only the required fields."""
    return {name: value_for(schema["properties"][name]) for name in schema.get("required", ())}


def full(schema: dict[str, Any]) -> dict[str, Any]:
    """Every field, each with a non-null value."""
    return {name: value_for(field) for name, field in schema["properties"].items()}
