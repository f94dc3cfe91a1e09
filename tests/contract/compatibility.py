"""Is a new version of the event contract compatible with the one already deployed?

Services are deployed one at a time, so for a while an old producer talks to a new consumer and a
new producer to an old consumer, and both read `data` with a strict marshmallow schema. A change is
*additive* when both pairs still understand each other: a new event type, a new optional field, a
new description or default. It is *breaking* when either pair would send an event to the dead-letter
topic, or a consumer would read it wrongly: an event type removed or moved to another topic, a field
removed, its type or format changed, a field made required or no longer required, an enum narrowed,
a bound tightened. A keyword this module does not judge is breaking until it is taught otherwise.

Widening an enum or loosening a bound is additive only if every consumer is deployed before the
first producer uses the new value, which the change's note says.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated", "$comment"})
LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
CONSUMERS_FIRST = "deploy every consumer before a producer uses it"
JUDGED = ANNOTATIONS | {"type", "format", "enum", "properties", "required", "items", "x-topic", *LOWER_BOUNDS,
                       *UPPER_BOUNDS}
ENVELOPE_KEYS = ("type", "properties", "required")
ABSENT = object()


@dataclass(frozen=True)
class Change:
    where: str
    what: str
    breaking: bool

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every difference between two contract documents (see rewards_shared.events.json_schema)."""
    found = list(_compare({k: old.get(k) for k in ENVELOPE_KEYS if k in old},
                          {k: new.get(k) for k in ENVELOPE_KEYS if k in new}, "envelope"))
    old_types, new_types = old.get("$defs", {}), new.get("$defs", {})
    for event_type in old_types:
        if event_type not in new_types:
            found.append(Change(event_type, "event type removed", breaking=True))
        else:
            found.extend(_compare(old_types[event_type], new_types[event_type], event_type))
    found.extend(Change(event_type, "new event type", breaking=False)
                 for event_type in new_types if event_type not in old_types)
    return found


def breaking(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    return [change for change in changes(old, new) if change.breaking]


def _compare(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> Iterator[Change]:
    yield from _types(old, new, where)
    if old.get("format", ABSENT) != new.get("format", ABSENT):
        yield Change(where, f"format {_shown(old.get('format', ABSENT))} → {_shown(new.get('format', ABSENT))}",
                     breaking=True)
    yield from _enum(old, new, where)
    yield from _bounds(old, new, where)
    yield from _properties(old, new, where)
    if "items" in old or "items" in new:
        if "items" in old and "items" in new:
            yield from _compare(old["items"], new["items"], f"{where}[]")
        else:
            yield Change(where, "items added" if "items" in new else "items removed", breaking=True)
    for keyword in sorted((set(old) | set(new)) - JUDGED):
        before, after = old.get(keyword, ABSENT), new.get(keyword, ABSENT)
        if before != after:
            yield Change(where, f"{keyword} {_shown(before)} → {_shown(after)} "
                                "(not judged by the checker, so taken as breaking)", breaking=True)
    if old.get("x-topic", ABSENT) != new.get("x-topic", ABSENT):
        yield Change(where, f"topic {_shown(old.get('x-topic', ABSENT))} → {_shown(new.get('x-topic', ABSENT))}",
                     breaking=True)
    for keyword in sorted(ANNOTATIONS):
        before, after = old.get(keyword, ABSENT), new.get(keyword, ABSENT)
        if before != after:
            yield Change(where, f"{keyword} {_shown(before)} → {_shown(after)}", breaking=False)


def _types(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> Iterator[Change]:
    before, after = _type_set(old.get("type")), _type_set(new.get("type"))
    if before != after:
        yield Change(where, f"type {_joined(before)} → {_joined(after)}", breaking=True)


def _enum(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> Iterator[Change]:
    if "enum" not in old and "enum" not in new:
        return
    if "enum" not in old:
        yield Change(where, f"values restricted to {_shown(new['enum'])}", breaking=True)
        return
    if "enum" not in new:
        yield Change(where, f"values no longer restricted ({CONSUMERS_FIRST})", breaking=False)
        return
    dropped = [value for value in old["enum"] if value not in new["enum"]]
    added = [value for value in new["enum"] if value not in old["enum"]]
    if dropped:
        yield Change(where, f"enum narrowed: {_shown(dropped)} no longer allowed", breaking=True)
    if added:
        yield Change(where, f"enum widened with {_shown(added)} ({CONSUMERS_FIRST})", breaking=False)


def _bounds(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> Iterator[Change]:
    for keyword in LOWER_BOUNDS + UPPER_BOUNDS:
        before, after = old.get(keyword, ABSENT), new.get(keyword, ABSENT)
        if before == after:
            continue
        lower = keyword in LOWER_BOUNDS
        if before is ABSENT:
            tighter = True
        elif after is ABSENT:
            tighter = False
        else:
            tighter = after > before if lower else after < before
        note = "tightened" if tighter else f"loosened ({CONSUMERS_FIRST})"
        yield Change(where, f"{keyword} {_shown(before)} → {_shown(after)}: {note}", breaking=tighter)


def _properties(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> Iterator[Change]:
    before, after = old.get("properties", {}), new.get("properties", {})
    was_required, now_required = set(old.get("required", ())), set(new.get("required", ()))
    for name in before:
        if name not in after:
            yield Change(f"{where}.{name}", "field removed", breaking=True)
            continue
        yield from _compare(before[name], after[name], f"{where}.{name}")
        if name in now_required and name not in was_required:
            yield Change(f"{where}.{name}", "newly required: an old producer may leave it out", breaking=True)
        elif name in was_required and name not in now_required:
            yield Change(f"{where}.{name}", "no longer required: an old consumer rejects an event without it",
                         breaking=True)
    for name in after:
        if name in before:
            continue
        if name in now_required:
            yield Change(f"{where}.{name}", "new required field: an old producer does not send it", breaking=True)
        else:
            yield Change(f"{where}.{name}", "new optional field", breaking=False)


def _type_set(value: str | list[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    return frozenset([value] if isinstance(value, str) else value)


def _joined(types: frozenset[str]) -> str:
    return "|".join(sorted(types)) or "any"


def _shown(value: object) -> str:
    return "absent" if value is ABSENT else json.dumps(value, ensure_ascii=False)
