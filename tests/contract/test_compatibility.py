"""The compatibility rules, on small made-up contracts: each kind of change, judged as it should be."""
from __future__ import annotations

import copy

import pytest

from rewards_shared.events.json_schema import document, to_json_schema

from .compatibility import breaking, changes

OLD = {
    "type": "object",
    "properties": {"specversion": {"type": "string"}, "data": {"type": "object"}},
    "required": ["data", "specversion"],
    "$defs": {
        "thing.happened": {
            "x-topic": "things.v1",
            "type": "object",
            "properties": {
                "member_id": {"type": "string", "minLength": 1, "maxLength": 64},
                "mode": {"type": "string", "enum": ["bus", "tram"]},
                "at": {"type": "string", "format": "date-time"},
                "note": {"type": ["string", "null"], "default": None},
                "points": {"type": "integer", "minimum": 0},
                "legs": {"type": "array", "items": {"type": "object", "properties": {"km": {"type": "number"}}}},
            },
            "required": ["at", "member_id", "mode", "points"],
        },
        "thing.undone": {"x-topic": "things.v1", "type": "object",
                         "properties": {"member_id": {"type": "string"}}, "required": ["member_id"]},
    },
}


def changed(edit) -> dict:
    new = copy.deepcopy(OLD)
    edit(new)
    return new


def happened(doc: dict) -> dict:
    return doc["$defs"]["thing.happened"]


def prop(doc: dict, name: str) -> dict:
    return happened(doc)["properties"][name]


def test_the_same_contract_has_no_changes():
    assert changes(OLD, copy.deepcopy(OLD)) == []


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d["$defs"].pop("thing.undone"), "thing.undone: event type removed"),
    (lambda d: happened(d)["properties"].pop("note"), "thing.happened.note: field removed"),
    (lambda d: prop(d, "points").update(type="number"), "thing.happened.points: type integer → number"),
    (lambda d: prop(d, "member_id").update(type=["string", "null"]),
     "thing.happened.member_id: type string → null|string"),
    (lambda d: prop(d, "note").update(type="string"), "thing.happened.note: type null|string → string"),
    (lambda d: prop(d, "at").update(format="date"), 'thing.happened.at: format "date-time" → "date"'),
    (lambda d: prop(d, "at").pop("format"), 'thing.happened.at: format "date-time" → absent'),
    (lambda d: happened(d)["required"].append("note"), "thing.happened.note: newly required"),
    (lambda d: happened(d)["required"].remove("points"), "thing.happened.points: no longer required"),
    (lambda d: prop(d, "mode").update(enum=["bus"]), 'thing.happened.mode: enum narrowed: ["tram"]'),
    (lambda d: prop(d, "note").update(enum=["a", None]), "thing.happened.note: values restricted"),
    (lambda d: prop(d, "member_id").update(maxLength=32), "thing.happened.member_id: maxLength 64 → 32"),
    (lambda d: prop(d, "points").update(minimum=1), "thing.happened.points: minimum 0 → 1"),
    (lambda d: prop(d, "note").update(maxLength=10), "thing.happened.note: maxLength absent → 10"),
    (lambda d: prop(d, "legs")["items"]["properties"].pop("km"), "thing.happened.legs[].km: field removed"),
    (lambda d: prop(d, "legs").pop("items"), "thing.happened.legs: items removed"),
    (lambda d: (happened(d)["properties"].update(region={"type": "string"}), happened(d)["required"].append("region")),
     "thing.happened.region: new required field"),
    (lambda d: happened(d).update({"x-topic": "other.v1"}), 'thing.happened: topic "things.v1" → "other.v1"'),
    (lambda d: happened(d).update(additionalProperties=False), "thing.happened: additionalProperties absent → false"),
    (lambda d: prop(d, "mode").update(pattern="^[a-z]+$"), "thing.happened.mode: pattern"),
    (lambda d: d["properties"].pop("specversion"), "envelope.specversion: field removed"),
    (lambda d: d["required"].append("subject") or d["properties"].update(subject={"type": "string"}),
     "envelope.subject: new required field"),
])
def test_incompatible_changes_are_breaking(edit, expected):
    found = breaking(OLD, changed(edit))
    assert found, expected
    assert any(str(change).startswith(expected) for change in found), [str(change) for change in found]


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d["$defs"].update({"thing.redone": {"type": "object", "properties": {}}}),
     "thing.redone: new event type"),
    (lambda d: happened(d)["properties"].update(region={"type": ["string", "null"]}),
     "thing.happened.region: new optional field"),
    (lambda d: prop(d, "mode").update(enum=["bus", "tram", "rail"]),
     'thing.happened.mode: enum widened with ["rail"] (deploy every consumer before a producer uses it)'),
    (lambda d: prop(d, "mode").pop("enum"), "thing.happened.mode: values no longer restricted"),
    (lambda d: prop(d, "member_id").update(maxLength=128), "thing.happened.member_id: maxLength 64 → 128"),
    (lambda d: prop(d, "points").pop("minimum"), "thing.happened.points: minimum 0 → absent"),
    (lambda d: prop(d, "note").update(description="free text"), "thing.happened.note: description"),
    (lambda d: prop(d, "note").update(default="none"), 'thing.happened.note: default null → "none"'),
    (lambda d: d["properties"].update(traceparent={"type": "string"}), "envelope.traceparent: new optional field"),
])
def test_additive_changes_are_reported_but_not_breaking(edit, expected):
    new = changed(edit)
    assert breaking(OLD, new) == []
    assert [str(change) for change in changes(OLD, new)][0].startswith(expected)


def test_every_change_is_named_once():
    def edit(d):
        happened(d)["properties"].pop("note")
        prop(d, "mode")["enum"] = ["bus", "rail"]
        d["$defs"]["thing.redone"] = {"type": "object", "properties": {}}
    found = changes(OLD, changed(edit))
    assert [(str(change), change.breaking) for change in found] == [
        ('thing.happened.mode: enum narrowed: ["tram"] no longer allowed', True),
        ('thing.happened.mode: enum widened with ["rail"] (deploy every consumer before a producer uses it)', False),
        ("thing.happened.note: field removed", True),
        ("thing.redone: new event type", False),
    ]


def test_the_checker_reads_what_the_exporter_writes():
    """Judged on real marshmallow schemas through the exporter, not only on hand-written JSON."""
    from marshmallow import Schema, fields, validate

    class Before(Schema):
        member_id = fields.String(required=True)
        mode = fields.String(required=True, validate=validate.OneOf(("bus", "tram")))
        km = fields.Float(allow_none=True, load_default=None)

    class Additive(Before):
        reason = fields.String(allow_none=True, load_default=None)

    class Breaking(Schema):
        member_id = fields.String(required=True)
        mode = fields.String(required=True, validate=validate.OneOf(("bus",)))
        km = fields.Integer(allow_none=True, load_default=None)

    old = document({"points.earned": Before()})
    assert changes(old, document({"points.earned": Before()})) == []
    assert breaking(old, document({"points.earned": Additive()})) == []
    assert [str(c) for c in changes(old, document({"points.earned": Additive()}))] == [
        "points.earned.reason: new optional field"]
    assert {str(c) for c in breaking(old, document({"points.earned": Breaking()}))} == {
        'points.earned.mode: enum narrowed: ["tram"] no longer allowed',
        "points.earned.km: type null|number → integer|null"}
    assert to_json_schema(Before)["required"] == ["member_id", "mode"]
