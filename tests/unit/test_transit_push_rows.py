"""A pushed tap is checked once, field by field, with the messages the API has always given."""
from datetime import UTC, datetime, timedelta, timezone

from transit_ingest.ingest import validate_rows

GOOD = {"tap_id": "t-1", "card_ref": "fs-1", "occurred_at": "2026-11-20T07:41:12Z", "type": "on", "mode": "bus"}


def errors_of(row) -> list[tuple[str, str]]:
    valid, errors = validate_rows([row])
    assert not (valid and errors)
    return [(e.field, e.message) for e in errors]


def test_a_good_row_comes_back_typed_with_its_defaults():
    valid, errors = validate_rows([dict(GOOD, latitude="53.8", longitude=-1, direction="in",
                                        updated_at="2026-11-20T08:41:12+01:00")])
    assert errors == []
    [(index, tap)] = valid
    assert index == 0 and tap["occurred_at"] == datetime(2026, 11, 20, 7, 41, 12, tzinfo=UTC)
    assert (tap["latitude"], tap["longitude"], tap["outcome"], tap["route_id"]) == (53.8, -1.0, "allow", None)
    assert tap["updated_at"].utcoffset() == timedelta(hours=1)
    assert tap["updated_at"].tzinfo == timezone(timedelta(hours=1))


def test_each_bad_field_is_named_with_its_reason():
    assert errors_of({}) == [(name, "Missing data for required field.")
                             for name in ("card_ref", "mode", "occurred_at", "tap_id", "type")]
    assert errors_of(dict(GOOD, tap_id="", card_ref=7, type=None, outcome=None)) == [
        ("card_ref", "Not a valid string."), ("outcome", "Field may not be null."),
        ("tap_id", "Length must be between 1 and 128."), ("type", "Field may not be null.")]
    assert errors_of(dict(GOOD, occurred_at="2026-11-20T07:41:12", updated_at="soon", direction="x" * 65)) == [
        ("direction", "Longer than maximum length 64."), ("occurred_at", "Not a valid aware datetime."),
        ("updated_at", "Not a valid datetime.")]
    assert errors_of(dict(GOOD, latitude=True, longitude=float("nan"))) == [
        ("latitude", "Not a valid number."),
        ("longitude", "Special numeric values (nan or infinity) are not permitted.")]
    assert errors_of(dict(GOOD, latitude=10**400, longitude=-181)) == [
        ("latitude", "Number too large."),
        ("longitude", "Must be greater than or equal to -180 and less than or equal to 180.")]
    assert errors_of(dict(GOOD, latitude=53.8)) == [("longitude", "Latitude and longitude come together.")]
    assert errors_of(dict(GOOD, card_number="4111111111111111")) == [("card_number", "Unknown field.")]
    assert errors_of(dict(GOOD, type="sideways", outcome="maybe")) == [
        ("outcome", "Must be one of: allow, deny."), ("type", "Must be one of: on, off, single.")]


def test_rows_that_are_not_objects_are_rejected_and_the_rest_kept_in_order():
    valid, errors = validate_rows([7, GOOD, None, dict(GOOD, tap_id="t-2")])
    assert [index for index, _ in valid] == [1, 3]
    assert [(e.index, e.field) for e in errors] == [(0, "_row"), (2, "_row")]
