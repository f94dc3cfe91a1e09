"""Operator file formats: Littlepay device_transactions (v3 and v1) and TIDES fare_transactions.

A parser reads the header, then turns each row into a `TapRecord` (or row errors by line and field)
one row at a time, so a file of any size passes through in constant memory. A file that is not in
the format at all raises `FormatError` with a reason a person can act on.
"""
from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

from rewards_shared.events.schemas import MODES

FORMATS = ("littlepay-v3", "littlepay-v1", "tides")
MAX_ID_LENGTH = 128
FUTURE_TOLERANCE = timedelta(days=1)

LITTLEPAY_V3 = (
    "participant_id", "customer_id", "device_transaction_id", "littlepay_transaction_id", "device_id",
    "device_id_issuer", "type", "transaction_outcome", "transaction_timestamp_utc", "location_id",
    "location_name", "zone_id", "route_id", "mode", "direction", "latitude", "longitude", "vehicle_id",
    "granted_zone_ids", "onward_zone_ids", "processed_timestamp_utc", "trip_attributes",
    "record_updated_timestamp_utc", "funding_source_id", "channel",
)
LITTLEPAY_V1 = (
    "participant_id", "customer_id", "device_transaction_id", "littlepay_transaction_id", "device_id",
    "device_id_issuer", "type", "transaction_outcome", "transaction_deny_reason", "transaction_date_time_utc",
    "location_id", "location_scheme", "location_name", "zone_id", "route_id", "mode", "direction",
    "latitude", "longitude", "vehicle_id", "granted_zone_ids", "onward_zone_ids",
)
_LITTLEPAY_REQUIRED = ("participant_id", "littlepay_transaction_id", "type", "transaction_outcome")
TIDES = (
    "transaction_id", "service_date", "event_timestamp", "location_ping_id", "amount", "currency_type",
    "fare_action", "trip_id_performed", "trip_id_scheduled", "pattern_id", "trip_stop_sequence",
    "scheduled_stop_sequence", "vehicle_id", "device_id", "fare_id", "stop_id", "num_riders", "fare_media_id",
    "rider_category", "fare_product", "fare_period", "fare_capped", "token_id", "balance",
)
_TIDES_REQUIRED = ("transaction_id", "service_date", "event_timestamp", "amount", "fare_action", "fare_capped")
TIDES_FARE_ACTIONS = {
    "Enter": "on", "Transfer entrance": "on", "Exit": "off", "Transfer exit": "off", "Void": "void",
    "Unknown action type": None, "Purchase": None, "Add": None, "New": None, "Capture": None, "Extend": None,
    "Combine": None, "Activate": None, "Adjust": None, "Other": None,
}
TIDES_FARE_MEDIA = (
    "Cash or coins", "Smart card or ticket", "Magnetic-stripe card or ticket", "Bank card", "Mobile NFC",
    "Optical scan", "Button pressed by driver or operator", "Other type",
)
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "t": True, "f": False, "yes": True, "no": False}


class FormatError(Exception):
    """The file is not in the format it claims; the message says why."""


class TapRecord(NamedTuple):
    """A valid tap, in the column order of the staging table. Times and positions stay as the
    validated text where that is exact, so the database parses them and Python does not format them."""
    line: int
    tap_id: str
    card_hash: bytes
    occurred_at: object
    type: str
    outcome: str
    mode: str
    route_id: str | None
    stop_id: str | None
    direction: str | None
    vehicle_id: str | None
    latitude: object
    longitude: object
    version_at: object


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


@dataclass(frozen=True)
class OperatorProfile:
    """What a parser needs to know about the operator whose file it reads."""
    operator_id: str
    participant_id: str
    default_mode: str
    fare_model: str
    card_ref_field: str
    timezone: str = "Europe/London"


class Ignored(NamedTuple):
    """A valid row that is not a tap we can use (a purchase, a cash fare without a card)."""
    line: int
    reason: str


Parsed = TapRecord | list[RowError] | Ignored | None
CardHasher = Callable[[str, str], bytes]


class CachedHasher:
    """The card HMAC, remembered per card for a while: a file repeats the same cards many times."""

    def __init__(self, hasher: CardHasher, operator_id: str, limit: int = 200_000):
        self.hasher, self.operator_id, self.limit = hasher, operator_id, limit
        self.cache: dict[str, bytes] = {}

    def __call__(self, card_ref: str) -> bytes:
        found = self.cache.get(card_ref)
        if found is None:
            if len(self.cache) >= self.limit:
                self.cache.clear()
            found = self.cache[card_ref] = self.hasher(self.operator_id, card_ref)
        return found


class Checker:
    """Collects a row's errors field by field."""

    __slots__ = ("line", "errors")

    def __init__(self, line: int):
        self.line = line
        self.errors: list[RowError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(RowError(self.line, field, message))

    def text(self, field: str, value: str, *, required: bool = False) -> str | None:
        if not value:
            if required:
                self.fail(field, "Missing value.")
            return None
        if len(value) > MAX_ID_LENGTH:
            self.fail(field, f"Longer than {MAX_ID_LENGTH} characters.")
            return None
        return value

    def one_of(self, field: str, value: str, allowed, *, required: bool = True) -> str | None:
        if not value:
            if required:
                self.fail(field, "Missing value.")
            return None
        if value not in allowed:
            self.fail(field, f"Must be one of: {', '.join(allowed)}.")
            return None
        return value

    def timestamp(self, field: str, value: str, zone: tzinfo, now: datetime, *, required: bool = True):
        if not value:
            if required:
                self.fail(field, "Missing value.")
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(field, "Not an ISO 8601 timestamp (e.g. 2025-10-24T07:41:12.000Z).")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        if parsed > now + FUTURE_TOLERANCE:
            self.fail(field, "Is in the future.")
            return None
        return parsed

    def number(self, field: str, value: str, low: float | None = None, high: float | None = None,
               *, required: bool = False, integer: bool = False):
        if not value:
            if required:
                self.fail(field, "Missing value.")
            return None
        try:
            number = int(value) if integer else float(value)
        except ValueError:
            self.fail(field, "Not an integer." if integer else "Not a number.")
            return None
        if not math.isfinite(number) or (low is not None and number < low) or (high is not None and number > high):
            self.fail(field, f"Must be between {low} and {high}." if high is not None else f"Must be at least {low}.")
            return None
        return number

    def position(self, lat_text: str, lon_text: str) -> tuple[str | None, str | None]:
        if not lat_text and not lon_text:
            return None, None
        if not lat_text or not lon_text:
            self.fail("latitude" if not lat_text else "longitude", "Latitude and longitude come together.")
            return None, None
        latitude = self.number("latitude", lat_text, -90, 90)
        longitude = self.number("longitude", lon_text, -180, 180)
        if latitude is None or longitude is None or (latitude == 0 and longitude == 0):
            return None, None
        return lat_text, lon_text


class FileParser:
    """Reads a header, then validates rows one at a time."""

    format: str = ""
    delimiter = ","
    quoting = csv.QUOTE_MINIMAL

    def __init__(self, header: list[str], operator: OperatorProfile, hasher: CardHasher, now: datetime):
        self.columns = {name: index for index, name in enumerate(header)}
        self.width = len(header)
        self.operator = operator
        self.card_hash = CachedHasher(hasher, operator.operator_id)
        self.now = now

    def column(self, name: str) -> int | None:
        return self.columns.get(name)

    def parse(self, row: list[str], line: int) -> Parsed:
        raise NotImplementedError


class LittlepayParser(FileParser):
    delimiter = "|"
    quoting = csv.QUOTE_NONE

    def __init__(self, header, operator, hasher, now):
        super().__init__(header, operator, hasher, now)
        self.version = 3 if "transaction_timestamp_utc" in self.columns else 1
        self.format = f"littlepay-v{self.version}"
        card_field = operator.card_ref_field
        if card_field not in self.columns:
            raise FormatError(f"This operator links cards by {card_field}, which {self.format} files do not "
                              f"carry; send feed v3, or register the operator with card_ref_field=customer_id.")
        self.card_field = card_field
        self.time_field = "transaction_timestamp_utc" if self.version == 3 else "transaction_date_time_utc"
        self.participant = operator.participant_id
        c = self.columns
        self.at = (c["participant_id"], c["littlepay_transaction_id"], c[card_field], c["type"],
                   c["transaction_outcome"], c[self.time_field], c.get("mode"), c.get("route_id"),
                   c.get("location_id"), c.get("direction"), c.get("vehicle_id"), c.get("latitude"),
                   c.get("longitude"), c.get("record_updated_timestamp_utc"))

    def parse(self, row: list[str], line: int) -> Parsed:
        if len(row) != self.width:
            if not row or row == [""]:
                return None
            return [RowError(line, "_row", f"Has {len(row)} fields; the header has {self.width}.")]
        (participant, tap_id, card, kind, outcome, when, mode, route, stop, direction, vehicle, lat, lon,
         updated) = (row[i] if i is not None else "" for i in self.at)
        check = Checker(line)
        if participant != self.participant:
            check.fail("participant_id", f"Is {participant!r}; this feed is for {self.participant!r}.")
        tap_id = check.text("littlepay_transaction_id", tap_id, required=True)
        card = check.text(self.card_field, card, required=True)
        kind = check.one_of("type", kind, ("on", "off", "single"))
        outcome = check.one_of("transaction_outcome", outcome, ("allow", "deny"))
        occurred = check.timestamp(self.time_field, when, UTC, self.now)
        mode = check.one_of("mode", mode.lower(), MODES, required=False) if mode else self.operator.default_mode
        route, stop = check.text("route_id", route), check.text("location_id", stop)
        direction, vehicle = check.text("direction", direction), check.text("vehicle_id", vehicle)
        lat, lon = check.position(lat, lon)
        version = check.timestamp("record_updated_timestamp_utc", updated, UTC, self.now, required=False)
        if check.errors:
            return check.errors
        return TapRecord(line, tap_id, self.card_hash(card), occurred, kind, outcome, mode, route, stop,
                         direction, vehicle, lat, lon, version)


class TidesParser(FileParser):
    format = "tides"

    def __init__(self, header, operator, hasher, now):
        super().__init__(header, operator, hasher, now)
        self.zone = ZoneInfo(operator.timezone)
        c = self.columns
        self.at = (c["transaction_id"], c["service_date"], c["event_timestamp"], c["amount"], c["fare_action"],
                   c["fare_capped"], c.get("token_id"), c.get("stop_id"), c.get("vehicle_id"),
                   c.get("fare_media_id"), c.get("num_riders"), c.get("trip_stop_sequence"))

    def parse(self, row: list[str], line: int) -> Parsed:
        if len(row) != self.width:
            if not row or row == [""]:
                return None
            return [RowError(line, "_row", f"Has {len(row)} fields; the header has {self.width}.")]
        (tap_id, service_date, when, amount, action, capped, token, stop, vehicle, media, riders,
         sequence) = (row[i] if i is not None else "" for i in self.at)
        check = Checker(line)
        tap_id = check.text("transaction_id", tap_id, required=True)
        if not service_date:
            check.fail("service_date", "Missing value.")
        else:
            try:
                datetime.strptime(service_date, "%Y-%m-%d")
            except ValueError:
                check.fail("service_date", "Not a date (YYYY-MM-DD).")
        occurred = check.timestamp("event_timestamp", when, self.zone, self.now)
        check.number("amount", amount, required=True)
        action = check.one_of("fare_action", action, tuple(TIDES_FARE_ACTIONS))
        if capped.lower() not in _BOOLEANS:
            check.fail("fare_capped", "Missing value." if not capped else "Must be true or false.")
        check.one_of("fare_media_id", media, TIDES_FARE_MEDIA, required=False)
        check.number("num_riders", riders, 0, None, integer=True)
        check.number("trip_stop_sequence", sequence, 0, None, integer=True)
        token, stop, vehicle = check.text("token_id", token), check.text("stop_id", stop), check.text(
            "vehicle_id", vehicle)
        if check.errors:
            return check.errors
        kind = TIDES_FARE_ACTIONS[action]
        if kind is None:
            return Ignored(line, f"fare_action {action} is not a tap")
        if token is None:
            return Ignored(line, "no token_id (cash), so no card to credit")
        outcome = "void" if kind == "void" else "allow"
        if kind == "void" or (kind == "on" and self.operator.fare_model == "flat"):
            kind = "single"
        return TapRecord(line, tap_id, self.card_hash(token), occurred, kind, outcome, self.operator.default_mode,
                         None, stop, None, vehicle, None, None, None)


def _missing(header: list[str], required: Iterable[str]) -> list[str]:
    present = set(header)
    return [name for name in required if name not in present]


_SEPARATORS = {"|": "pipe", ",": "comma", "\t": "tab", ";": "semicolon"}
_EXPECTED = {"littlepay-v3": "pipe-separated Littlepay v3 (device_transactions)",
             "littlepay-v1": "pipe-separated Littlepay v1 (device_transactions)",
             "tides": "comma-separated TIDES fare_transactions"}
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _separator(header_line: str) -> str | None:
    """The separator a header row uses: the one of ours that splits it into the most names."""
    counts = {sep: header_line.count(sep) for sep in _SEPARATORS}
    sep = max(counts, key=counts.get)
    return sep if counts[sep] else None


def _looks_like(header: list[str]) -> str | None:
    """The format whose own columns a header carries, whatever it was sent as."""
    names = {name.strip().strip('"') for name in header}
    if {"littlepay_transaction_id", "transaction_timestamp_utc"} <= names:
        return "littlepay-v3"
    if {"littlepay_transaction_id", "transaction_date_time_utc"} <= names:
        return "littlepay-v1"
    if {"transaction_id", "fare_action", "event_timestamp"} <= names:
        return "tides"
    return None


def _wrong_file(fmt: str, header_line: str, own_separator: str) -> FormatError | None:
    """A file in another format or split by another separator: say so, rather than list missing columns."""
    line = header_line.rstrip("\r\n")
    sep = _separator(line)
    other = _looks_like(line.split(sep)) if sep else None
    family = fmt.split("-")[0]
    if other and other.split("-")[0] != family:
        return FormatError(f"This is a {_EXPECTED[other]} file, sent as {fmt}: expected {_EXPECTED[fmt]}. "
                           f"Send it again with format={other}.")
    if sep and sep != own_separator and line.count(own_separator) == 0:
        return FormatError(f"The header is {_SEPARATORS[sep]}-separated: expected {_EXPECTED[fmt]}.")
    return None


def open_parser(fmt: str, header_line: str, operator: OperatorProfile, hasher: CardHasher,
                now: datetime) -> FileParser:
    """The parser for a file whose first line is `header_line`, or FormatError saying what is wrong;
    `now` bounds how far in the future a tap may be."""
    if fmt not in FORMATS:
        raise FormatError(f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}.")
    if not header_line.strip():
        raise FormatError("The file is empty: expected a header row.")
    if _UNDECODABLE.search(header_line):
        raise FormatError("The file is not UTF-8 text (binary data?).")
    if "\x00" in header_line or any(ord(ch) < 32 and ch not in "\t\r\n" for ch in header_line):
        raise FormatError("The file looks like binary data, not a text file with a header row.")
    if fmt.startswith("littlepay"):
        if wrong := _wrong_file(fmt, header_line, "|"):
            raise wrong
        header = header_line.rstrip("\r\n").split("|")
        times = [name for name in ("transaction_timestamp_utc", "transaction_date_time_utc") if name in header]
        expected_time = "transaction_date_time_utc" if fmt == "littlepay-v1" else "transaction_timestamp_utc"
        missing = _missing(header, _LITTLEPAY_REQUIRED + ((times or [expected_time])[0],))
        if missing:
            raise FormatError(f"Not a Littlepay device_transactions file: the header lacks {', '.join(missing)}.")
        return LittlepayParser(header, operator, hasher, now)
    if wrong := _wrong_file(fmt, header_line, ","):
        raise wrong
    header = next(csv.reader([header_line]))
    missing = _missing(header, _TIDES_REQUIRED)
    if missing:
        raise FormatError(f"Not a TIDES fare_transactions file: the header lacks {', '.join(missing)}.")
    return TidesParser(header, operator, hasher, now)


MAX_LINE = 1 << 20  # characters: far beyond any row, short enough that a file with no line ends stays small


def lines_of(text) -> Iterator[str]:
    """A text stream's lines, none longer than MAX_LINE characters (a longer one comes in pieces)."""
    return iter(lambda: text.readline(MAX_LINE), "")


class _Lines:
    """The lines as the csv reader takes them, noting what the current row's error must say: a line that
    was not UTF-8 (decoded with surrogate escapes), too long, or the file ending inside the row."""

    __slots__ = ("lines", "problem", "unterminated")

    def __init__(self, lines: Iterator[str]):
        self.lines = lines
        self.problem: str | None = None
        self.unterminated = False

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.unterminated = not line.endswith(("\n", "\r"))
        if self.unterminated and len(line) >= MAX_LINE:
            self.problem, self.unterminated = f"Longer than {MAX_LINE} characters: not a row of this format.", False
        elif not line.isascii() and _UNDECODABLE.search(line):
            self.problem = self.problem or "Not UTF-8 text."
        return line


_TRUNCATED = " The file ends part-way through this row: was it cut short?"


def rows(parser: FileParser, lines: Iterator[str], *, after_line: int = 1) -> Iterator[tuple[int, Parsed]]:
    """(line number, parsed row) for every row after the header (line 1) and after `after_line`. A row the
    csv reader cannot split, or that is not UTF-8, is that row's error; the rows after it still count."""
    source = _Lines(lines)
    reader = csv.reader(source, delimiter=parser.delimiter, quoting=parser.quoting, strict=True)
    while True:
        source.problem = None
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            row, source.problem = None, source.problem or f"Cannot be read: {error}."
        line = reader.line_num + 1
        if line <= after_line:
            continue
        parsed = [RowError(line, "_row", source.problem)] if source.problem else parser.parse(row, line)
        if source.unterminated and isinstance(parsed, list):
            parsed = [RowError(e.line, e.field, e.message + _TRUNCATED) for e in parsed]
        yield line, parsed
