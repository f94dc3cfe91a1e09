"""The operator file formats, row by row: no database needed."""
from datetime import UTC, datetime

import pytest

from transit_ingest.formats import (
    LITTLEPAY_V1,
    LITTLEPAY_V3,
    TIDES,
    FormatError,
    Ignored,
    OperatorProfile,
    TapRecord,
    open_parser,
    rows,
)

NOW = datetime(2025, 10, 25, tzinfo=UTC)
OPERATOR = OperatorProfile("leeds-bus", "leeds-bus", "bus", "variable", "funding_source_id", "Europe/London")
EXAMPLE = """\
leeds-bus|c-0001|d-1|lp-0001|val-17|LP|on|allow|2025-10-24T07:41:12.000Z|S1001|Headrow|Z1|19|bus|inbound|53.7997|-1.5492|BUS-204|||2025-10-24T07:41:15.000Z||2025-10-24T07:41:15.000Z|fs-aaaa|TRANSIT
leeds-bus|c-0001|d-2|lp-0002|val-17|LP|off|allow|2025-10-24T08:02:40.000Z|S2040|Roundhay Park|Z2|19|bus|inbound|53.8392|-1.4963|BUS-204|||2025-10-24T08:02:44.000Z||2025-10-24T08:02:44.000Z|fs-aaaa|TRANSIT
leeds-bus|c-0002|d-3|lp-0003|val-09|LP|single|deny|2025-10-24T09:10:00.000Z|S1001|Headrow|Z1|4|bus|outbound|||BUS-117|||2025-10-24T09:10:02.000Z||2025-10-24T09:10:02.000Z|fs-bbbb|TRANSIT
"""  # noqa: E501 (the reference example, verbatim)


def hasher(operator_id, card_ref):
    return f"{operator_id}/{card_ref}".encode()


def parse(fmt, text, operator=OPERATOR):
    lines = iter(text.splitlines(keepends=True))
    parser = open_parser(fmt, next(lines), operator, hasher, NOW)
    return parser, list(rows(parser, lines))


def test_the_reference_example_reads_as_three_taps():
    parser, parsed = parse("littlepay-v3", "|".join(LITTLEPAY_V3) + "\n" + EXAMPLE)
    assert parser.format == "littlepay-v3"
    assert [(line, r.tap_id, r.type, r.outcome, r.card_hash) for line, r in parsed] == [
        (2, "lp-0001", "on", "allow", b"leeds-bus/fs-aaaa"), (3, "lp-0002", "off", "allow", b"leeds-bus/fs-aaaa"),
        (4, "lp-0003", "single", "deny", b"leeds-bus/fs-bbbb")]
    first = parsed[0][1]
    assert (first.stop_id, first.route_id, first.latitude, first.version_at) == \
        ("S1001", "19", "53.7997", datetime(2025, 10, 24, 7, 41, 15, tzinfo=UTC))
    assert parsed[2][1].latitude is None


def test_blank_lines_are_skipped_and_short_rows_rejected():
    _, parsed = parse("littlepay-v3", "|".join(LITTLEPAY_V3) + "\n\nleeds-bus|x\n")
    assert [(line, [(e.field, e.message) for e in r]) for line, r in parsed if r] == [
        (3, [("_row", "Has 2 fields; the header has 25.")])]


def test_the_sample_the_readme_links_reads_as_three_taps_and_one_rejection():
    from pathlib import Path

    sample = Path(__file__).parents[2] / "docs" / "samples" / "202611240600_device-transactions.psv"
    lines = iter(sample.read_text().splitlines(keepends=True))
    parser = open_parser("littlepay-v3", next(lines), OPERATOR, hasher, datetime(2026, 12, 1, tzinfo=UTC))
    parsed = list(rows(parser, lines))
    assert [line for line, r in parsed if not isinstance(r, list)] == [2, 3, 4]
    assert [(line, [e.field for e in r]) for line, r in parsed if isinstance(r, list)] == \
        [(5, ["transaction_timestamp_utc"])]


def test_every_field_is_checked_and_reported_by_name():
    bad = EXAMPLE.splitlines()[0].split("|")
    bad[6], bad[7], bad[8], bad[13], bad[15], bad[16] = "in", "maybe", "2025-13-01", "zeppelin", "53.8", ""
    _, [(line, errors)] = parse("littlepay-v3", "|".join(LITTLEPAY_V3) + "\n" + "|".join(bad) + "\n")
    assert {e.field for e in errors} == {"type", "transaction_outcome", "transaction_timestamp_utc", "mode",
                                         "longitude"}


@pytest.mark.parametrize(("header", "fmt", "reason"), [
    ("", "littlepay-v3", "empty"),
    (",".join(LITTLEPAY_V3), "littlepay-v3", "comma-separated: expected pipe-separated Littlepay v3"),
    (";".join(LITTLEPAY_V3), "littlepay-v3", "semicolon-separated: expected pipe-separated Littlepay v3"),
    ("\t".join(LITTLEPAY_V1), "littlepay-v3", "tab-separated: expected pipe-separated Littlepay v3"),
    ("|".join(TIDES), "tides", "comma-separated"),
    ("PK\x03\x04\x14\x00", "tides", "binary"),
    ("|".join(LITTLEPAY_V3), "gtfs", "Unknown format"),
])
def test_files_not_in_the_format_are_refused_with_a_reason(header, fmt, reason):
    with pytest.raises(FormatError, match=reason):
        open_parser(fmt, header + "\n", OPERATOR, hasher, NOW)


def test_v1_files_need_an_operator_that_links_by_customer_id():
    with pytest.raises(FormatError, match="customer_id"):
        open_parser("littlepay-v3", "|".join(LITTLEPAY_V1), OPERATOR, hasher, NOW)
    by_customer = OperatorProfile("leeds-bus", "leeds-bus", "bus", "variable", "customer_id")
    row = {"participant_id": "leeds-bus", "customer_id": "c-1", "littlepay_transaction_id": "t1", "type": "on",
           "transaction_outcome": "allow", "transaction_date_time_utc": "2025-10-24T07:41:12Z"}
    parser, [(_, record)] = parse("littlepay-v1", "|".join(LITTLEPAY_V1) + "\n" +
                                  "|".join(row.get(c, "") for c in LITTLEPAY_V1) + "\n", by_customer)
    assert parser.format == "littlepay-v1" and record.card_hash == b"leeds-bus/c-1" and record.mode == "bus"


def test_tides_actions_map_to_taps_and_local_times_take_the_operator_zone():
    def row(**values):
        base = {"transaction_id": "t", "service_date": "2025-07-01", "event_timestamp": "2025-07-01T08:00:00",
                "amount": "2", "fare_action": "Enter", "fare_capped": "FALSE", "token_id": "tok"}
        return ",".join({**base, **values}.get(c, "") for c in TIDES)

    text = "\n".join([",".join(TIDES), row(), row(fare_action="Exit"), row(fare_action="Void"),
                      row(fare_action="Purchase"), row(token_id=""), row(num_riders="-1")]) + "\n"
    _, parsed = parse("tides", text)
    kinds = [(r.type, r.outcome) if isinstance(r, TapRecord) else type(r).__name__ for _, r in parsed]
    assert kinds == [("on", "allow"), ("off", "allow"), ("single", "void"), "Ignored", "Ignored", "list"]
    assert parsed[0][1].occurred_at == datetime(2025, 7, 1, 7, 0, tzinfo=UTC)
    assert isinstance(parsed[3][1], Ignored) and "Purchase" in parsed[3][1].reason
    flat = OperatorProfile("x", "x", "tram", "flat", "funding_source_id")
    _, [(_, enter)] = parse("tides", ",".join(TIDES) + "\n" + row() + "\n", flat)
    assert (enter.type, enter.mode) == ("single", "tram")


@pytest.mark.parametrize(("header", "fmt", "reason"), [
    (",".join(LITTLEPAY_V3), "littlepay-v3", "The header is comma-separated: expected pipe-separated Littlepay v3"),
    ("\t".join(LITTLEPAY_V1), "littlepay-v3", "The header is tab-separated: expected pipe-separated Littlepay v3"),
    (",".join(TIDES), "littlepay-v3", "This is a comma-separated TIDES fare_transactions file, sent as littlepay-v3"),
    ("|".join(LITTLEPAY_V3), "tides", "Send it again with format=littlepay-v3."),
    ("participant_id|littlepay_transaction_id|type|transaction_outcome", "littlepay-v3",
     "the header lacks transaction_timestamp_utc."),
])
def test_another_separator_or_another_format_is_named(header, fmt, reason):
    with pytest.raises(FormatError) as refused:
        open_parser(fmt, header + "\r\n", OPERATOR, hasher, NOW)
    assert reason in str(refused.value) and "transaction_date_time_utc" not in str(refused.value)


def test_a_row_that_cannot_be_read_is_its_own_error_and_the_rows_after_it_count():
    header = ",".join(TIDES)
    good = ",".join({"transaction_id": "t", "service_date": "2025-07-01", "event_timestamp": "2025-07-01T08:00:00",
                     "amount": "2", "fare_action": "Enter", "fare_capped": "false", "token_id": "tok"}.get(c, "")
                    for c in TIDES)
    text = "\n".join([header, '"t1"x,' + good[2:], "caf\udce9," + good[2:], good]) + "\n" + '"t9,2025-07-01'
    _, parsed = parse("tides", text)
    assert [(line, [e.message for e in r] if isinstance(r, list) else r.tap_id) for line, r in parsed] == [
        (2, ["Cannot be read: ',' expected after '\"'."]), (3, ["Not UTF-8 text."]), (4, "t"),
        (5, ["Cannot be read: unexpected end of data. The file ends part-way through this row: was it cut short?"])]
