"""The event contract, checked in as JSON Schema, may only grow.

`events.schema.json` here is the contract as deployed. After changing a schema in
`shared/rewards_shared/events/schemas.py`, regenerate it from the repository root with

    .venv/bin/python -m rewards_shared.events.json_schema > tests/contract/events.schema.json

and commit it with the change, so that review sees the contract's diff. The rule:

- an incompatible change (an event type removed or moved to another topic, a field removed, a
  field's type or format changed, a field newly required or no longer required, an enum narrowed,
  a bound tightened) fails `test_no_event_type_changed_incompatibly` for as long as the checked-in
  file is the old one: make a new `.vN` event type instead (DESIGN.md, Events);
- an additive change (a new event type, a new optional field, a widened enum, a new description)
  fails `test_the_checked_in_contract_is_current` with the list of changes and the command above,
  and passes once the file is regenerated.

Regenerating after an incompatible change makes both pass: that is the deliberate way to break the
contract (say, for a type no service has yet published), and it shows in review as a diff of this
file. The rules themselves are in `compatibility.py` and proven in `test_compatibility.py`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from rewards_shared.events import SCHEMAS, Event, encode
from rewards_shared.events.json_schema import document, dumps

from . import samples
from .compatibility import breaking, changes

CONTRACT = Path(__file__).with_name("events.schema.json")
REGENERATE = "python -m rewards_shared.events.json_schema > tests/contract/events.schema.json"
CURRENT = document()


def checked_in() -> dict:
    return json.loads(CONTRACT.read_text())


def test_no_event_type_changed_incompatibly():
    found = breaking(checked_in(), CURRENT)
    if found:
        pytest.fail("These event schema changes break services already deployed:\n  "
                    + "\n  ".join(map(str, found))
                    + "\nKeep the old shape and add a new `.vN` event type for the new one (DESIGN.md, Events).",
                    pytrace=False)


def test_the_checked_in_contract_is_current():
    if CONTRACT.read_text() == dumps(CURRENT):
        return
    found = [f"{'breaking' if change.breaking else 'additive'}: {change}"
             for change in changes(checked_in(), CURRENT)] or ["(no field changed: the document's layout did)"]
    pytest.fail("The event schemas changed; if these changes are meant, regenerate the contract with\n  "
                + REGENERATE + "\nand commit it:\n  " + "\n  ".join(found), pytrace=False)


def test_the_contract_is_json_schema_2020_12_with_one_entry_per_event_type():
    Draft202012Validator.check_schema(CURRENT)
    assert CURRENT["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert list(CURRENT["$defs"]) == list(SCHEMAS)
    for event_type, entry in CURRENT["$defs"].items():
        assert entry["type"] == "object" and entry["required"], event_type
        assert entry["x-topic"].endswith(".v1"), event_type


# The JSON Schema must say what the marshmallow schema does, or readers in other languages are misled:
# data made from the JSON Schema alone is accepted by both, and each kind of mistake refused by both.

def _verdicts(event_type: str, data: dict) -> tuple[bool, bool]:
    validator = Draft202012Validator(CURRENT["$defs"][event_type], format_checker=Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(data), not SCHEMAS[event_type].validate(data)


@pytest.mark.parametrize("event_type", list(SCHEMAS))
def test_data_made_from_the_json_schema_is_accepted_by_both(event_type):
    entry = CURRENT["$defs"][event_type]
    assert _verdicts(event_type, samples.minimal(entry)) == (True, True)
    assert _verdicts(event_type, samples.full(entry)) == (True, True)


@pytest.mark.parametrize("event_type", list(SCHEMAS))
def test_both_refuse_the_same_mistakes(event_type):
    entry = CURRENT["$defs"][event_type]
    data = samples.full(entry)
    for name in entry["required"]:
        assert _verdicts(event_type, {k: v for k, v in data.items() if k != name}) == (False, False), name
    for name, field in entry["properties"].items():
        nullable = "null" in samples.types_of(field)
        assert _verdicts(event_type, {**data, name: None}) == (nullable, nullable), name
        wrong = samples.WRONG_JSON_TYPE[next(t for t in samples.types_of(field) if t != "null")]
        assert _verdicts(event_type, {**data, name: wrong}) == (False, False), name
        if "enum" in field:
            assert _verdicts(event_type, {**data, name: "not-one-of-them"}) == (False, False), name


@pytest.mark.parametrize("event_type", list(SCHEMAS))
def test_an_encoded_event_is_valid_against_the_whole_contract(event_type):
    validator = Draft202012Validator(CURRENT, format_checker=Draft202012Validator.FORMAT_CHECKER)
    data = samples.minimal(CURRENT["$defs"][event_type])
    message = json.loads(encode(Event.create(event_type, "contract-test", data.get("member_id"), data)))
    assert validator.is_valid(message), list(validator.iter_errors(message))
    required = CURRENT["$defs"][event_type]["required"][0]
    del message["data"][required]
    assert not validator.is_valid(message), f"the envelope's type must select the data schema ({required})"
