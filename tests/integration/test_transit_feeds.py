"""Operator files through the real database: formats, validation, dedupe and corrections, pairing, links."""
from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from rewards_shared.db import outbox
from rewards_shared.events import decode
from transit_ingest import feeds, journeys, links, operators
from transit_ingest import stops as gtfs_stops
from transit_ingest.cards import CardHasher
from transit_ingest.formats import LITTLEPAY_V1, LITTLEPAY_V3, TIDES
from transit_ingest.models import Journey, Tap
from transit_ingest.samples import write_littlepay_with_bad_rows

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def database(databases):
    return databases("transit-ingest")


@pytest.fixture(scope="module")
def hasher(settings_for):
    return CardHasher(settings_for("transit-ingest").get_secret("CARD_HMAC_KEY"))


@pytest.fixture
def operator(database) -> str:
    operator_id = f"op-{uuid.uuid4().hex[:8]}"
    with database.transaction() as session:
        operators.register(session, id=operator_id, name="Test buses")
    return operator_id


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def littlepay(operator_id: str, rows: list[dict], columns=LITTLEPAY_V3, sep="|") -> bytes:
    defaults = {"participant_id": operator_id, "device_id_issuer": "LP", "mode": "bus", "channel": "TRANSIT",
                "type": "on", "transaction_outcome": "allow"}
    lines = [sep.join(columns)]
    for row in rows:
        values = {**defaults, **row}
        lines.append(sep.join(str(values.get(c, "")) for c in columns))
    return ("\n".join(lines) + "\n").encode()


def tap(tap_id, card, at, kind="on", **more) -> dict:
    return {"littlepay_transaction_id": tap_id, "funding_source_id": card, "customer_id": f"c-{card}",
            "type": kind, "transaction_timestamp_utc": stamp(at), "record_updated_timestamp_utc": stamp(at),
            **more}


def load(database, hasher, operator_id, body: bytes, fmt="littlepay-v3") -> dict:
    with database.transaction() as session:
        feed = feeds.receive(session, operator_id, fmt, io.BytesIO(body), filename="test.psv")
    assert feeds.claim(database, feed.id) == feed.id
    feeds.process(database, feed.id, hasher, chunk_rows=3)
    with database.transaction() as session:
        done = feeds.get(session, operator_id, feed.id)
        errors = [(e.line, e.field) for e in feeds.first_errors(session, feed.id)]
        return {c.key: getattr(done, c.key) for c in done.__table__.columns} | {"errors": errors}


def link(database, hasher, operator_id, card, member, now=None):
    with database.transaction() as session:
        links.link(session, hasher, member_id=member, operator_id=operator_id, card_ref=card, now=now)


def journeys_of(database, operator_id) -> list[Journey]:
    with database.transaction() as session:
        return list(session.execute(sa.select(Journey).where(Journey.operator_id == operator_id)
                                    .order_by(Journey.started_at)).scalars())


def events_for(database, member) -> list[tuple[str, dict]]:
    with database.transaction() as session:
        rows = session.execute(sa.select(outbox.c.payload).where(outbox.c.key == member)
                               .order_by(outbox.c.id)).scalars()
        return [(event.type, event.data) for event in map(decode, rows)]


def test_a_littlepay_file_gives_the_linked_member_their_journeys(database, hasher, operator, member_id):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    link(database, hasher, operator, "fs-aaaa", member_id)
    body = littlepay(operator, [
        tap("lp-1", "fs-aaaa", t0, "on", location_id="S1001", latitude="53.7997", longitude="-1.5492"),
        tap("lp-2", "fs-aaaa", t0 + timedelta(minutes=21), "off", location_id="S2040", latitude="53.8392",
            longitude="-1.4963"),
        tap("lp-3", "fs-bbbb", t0 + HOUR, "single", transaction_outcome="deny"),
        tap("lp-4", "fs-aaaa", t0 + 3 * HOUR, "single", mode="train"),
    ])
    feed = load(database, hasher, operator, body)
    assert (feed["status"], feed["detected_format"], feed["rows"], feed["accepted"], feed["rejected"]) == \
        ("done", "littlepay-v3", 4, 4, 0)
    assert feed["content_oid"] is None and feed["bytes_read"] == feed["size_bytes"] == len(body)
    found = journeys_of(database, operator)
    assert [(j.kind, j.mode, j.member_id, j.distance_source) for j in found] == [
        ("paired", "bus", member_id, "taps"), ("single", "train", member_id, None)]
    assert 5.5 < found[0].distance_km < 5.7
    sent = events_for(database, member_id)
    assert [(kind, data["kind"], data["revision"], data["distance_source"]) for kind, data in sent] == [
        ("transit.journey.completed", "paired", 1, "taps"), ("transit.journey.completed", "single", 1, None)]
    assert "fs-aaaa" not in json.dumps([data for _, data in sent])


def test_bad_rows_are_reported_by_line_and_field_and_good_rows_go_through(database, hasher, operator):
    t0 = datetime.now(UTC) - timedelta(days=1)
    body = littlepay(operator, [
        tap("ok-1", "fs-1", t0),
        tap("bad-1", "fs-1", t0, "sideways"),
        tap("bad-2", "fs-1", t0, transaction_timestamp_utc="yesterday", latitude="95", longitude="1"),
        tap("", "fs-1", t0, mode="hovercraft"),
        tap("bad-4", "fs-1", t0, participant_id="someone-else"),
        tap("ok-2", "fs-2", t0 + HOUR, "single"),
        tap("bad-5", "fs-1", t0 + timedelta(days=30), record_updated_timestamp_utc=""),
    ]) + f"{operator}|too|few\n".encode()
    feed = load(database, hasher, operator, body)
    assert (feed["status"], feed["rows"], feed["accepted"], feed["rejected"]) == ("done", 8, 2, 6)
    assert feed["errors"] == [(3, "type"), (4, "transaction_timestamp_utc"), (4, "latitude"),
                              (5, "littlepay_transaction_id"), (5, "mode"), (6, "participant_id"),
                              (8, "transaction_timestamp_utc"), (9, "_row")]
    report = "".join(feeds.rejection_report(database, uuid.UUID(str(feed["id"]))))
    assert report.splitlines()[0] == "line,field,message"
    assert report.splitlines()[1].startswith('3,type,"Must be one of: on, off, single')
    with database.transaction() as session:
        stored = session.execute(sa.select(Tap.tap_id).where(Tap.operator_id == operator)).scalars().all()
    assert sorted(stored) == ["ok-1", "ok-2"]


@pytest.mark.parametrize(("body", "fmt", "reason"), [
    (b"", "littlepay-v3", "empty"),
    (b"id,when,type\n1,2,3\n", "littlepay-v3", "pipe-separated"),
    (",".join(LITTLEPAY_V3).encode() + b"\n", "littlepay-v3", "pipe-separated"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "littlepay-v3", "binary"),
    (b"\xff\xfe\x00\x01garbage", "tides", "UTF-8"),
    ("|".join(LITTLEPAY_V3).encode() + b"\n", "tides", "TIDES"),
])
def test_a_file_not_in_the_format_fails_with_the_reason(database, hasher, operator, body, fmt, reason):
    feed = load(database, hasher, operator, body, fmt)
    assert feed["status"] == "failed" and reason in feed["reason"]
    assert feed["content_oid"] is None and feed["rows"] == 0


def test_a_later_export_corrects_an_announced_journey_and_a_void_voids_it(database, hasher, operator, member_id):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    link(database, hasher, operator, "fs-c", member_id)
    first = [tap("x-on", "fs-c", t0, location_id="S1"), tap("x-off", "fs-c", t0 + timedelta(minutes=15), "off",
                                                            location_id="PLACEHOLDER")]
    assert load(database, hasher, operator, littlepay(operator, first))["accepted"] == 2
    again = load(database, hasher, operator, littlepay(operator, first))
    assert (again["accepted"], again["replaced"], again["duplicates"]) == (0, 0, 2)
    corrected = [first[0], dict(first[1], location_id="S9",
                                record_updated_timestamp_utc=stamp(t0 + timedelta(days=1)))]
    assert load(database, hasher, operator, littlepay(operator, corrected))["replaced"] == 1
    stale = [dict(first[1], location_id="OLD", record_updated_timestamp_utc=stamp(t0 + HOUR))]
    assert load(database, hasher, operator, littlepay(operator, stale))["duplicates"] == 1
    (journey,) = journeys_of(database, operator)
    assert (journey.destination_stop_id, journey.revision) == ("S9", 2)

    denied = [dict(first[0], transaction_outcome="deny", record_updated_timestamp_utc=stamp(t0 + 2 * HOUR))]
    load(database, hasher, operator, littlepay(operator, denied))
    assert [(kind, data["revision"], data.get("destination_stop_id")) for kind, data in
            events_for(database, member_id)] == [
        ("transit.journey.completed", 1, "PLACEHOLDER"), ("transit.journey.corrected", 2, "S9"),
        ("transit.journey.voided", 3, None)]
    assert journeys_of(database, operator)[0].status == "voided"


def test_a_tap_off_in_a_later_file_completes_its_incomplete_journey(database, hasher, operator, member_id):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    link(database, hasher, operator, "fs-d", member_id)
    load(database, hasher, operator, littlepay(operator, [tap("d-on", "fs-d", t0)]))
    assert [(j.kind, j.off_tap_id) for j in journeys_of(database, operator)] == [("incomplete", None)]
    load(database, hasher, operator, littlepay(operator, [tap("d-off", "fs-d", t0 + timedelta(minutes=30), "off")]))
    assert [(j.kind, j.off_tap_id) for j in journeys_of(database, operator)] == [("paired", "d-off")]
    assert [(kind, data["kind"]) for kind, data in events_for(database, member_id)] == [
        ("transit.journey.completed", "incomplete"), ("transit.journey.corrected", "paired")]


def test_a_waiting_tap_on_becomes_incomplete_when_its_timeout_runs_out(database, hasher, operator, member_id):
    t0 = datetime.now(UTC).replace(microsecond=0) - HOUR
    link(database, hasher, operator, "fs-e", member_id)
    load(database, hasher, operator, littlepay(operator, [tap("e-on", "fs-e", t0)]))
    assert journeys_of(database, operator) == []
    with database.transaction() as session:
        assert journeys.drain(session, operator_id=operator, now=t0 + 2 * HOUR) == 0
    with database.transaction() as session:
        assert journeys.drain(session, operator_id=operator, now=t0 + 3 * HOUR + timedelta(seconds=1)) == 1
    assert [j.kind for j in journeys_of(database, operator)] == ["incomplete"]


def test_tides_fare_transactions_become_journeys_and_cash_is_ignored(database, hasher, operator, member_id):
    link(database, hasher, operator, "tok-1", member_id)
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    header = ",".join(TIDES)

    def row(tid, when, action, token="tok-1", stop="S1", **more):
        values = {"transaction_id": tid, "service_date": day, "event_timestamp": f"{day}T{when}",
                  "amount": "2.00", "fare_action": action, "fare_capped": "false", "token_id": token,
                  "stop_id": stop, **more}
        return ",".join(values.get(c, "") for c in TIDES)

    body = "\n".join([header, row("t1", "08:00:00", "Enter"), row("t2", "08:25:00+00:00", "Exit", stop="S2"),
                      row("t3", "09:00:00", "Enter", token=""), row("t4", "09:05:00", "Purchase"),
                      row("t5", "10:00:00", "Launch"), row("t6", "11:00:00", "Enter", fare_capped="")]) + "\n"
    feed = load(database, hasher, operator, body.encode(), "tides")
    assert (feed["status"], feed["accepted"], feed["ignored"], feed["rejected"]) == ("done", 2, 2, 2)
    assert feed["errors"] == [(6, "fare_action"), (7, "fare_capped")]
    (journey,) = journeys_of(database, operator)
    assert (journey.kind, journey.origin_stop_id, journey.destination_stop_id) == ("paired", "S1", "S2")
    assert journey.started_at.hour == (7 if datetime.fromisoformat(f"{day}T08:00:00+00:00").astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/London")).utcoffset() else 8)

    void = "\n".join([header, row("t2", "08:25:00+00:00", "Void", stop="S2")]) + "\n"
    assert load(database, hasher, operator, void.encode(), "tides")["replaced"] == 1
    assert journeys_of(database, operator)[0].kind == "incomplete"


def test_littlepay_v1_files_are_read_by_customer_id(database, hasher, member_id):
    operator_id = f"op-{uuid.uuid4().hex[:8]}"
    with database.transaction() as session:
        operators.register(session, id=operator_id, name="V1 buses", card_ref_field="customer_id")
    link(database, hasher, operator_id, "c-77", member_id)
    t0 = datetime.now(UTC) - timedelta(days=1)
    v1 = [{"littlepay_transaction_id": "v1-1", "customer_id": "c-77", "type": "single",
           "transaction_date_time_utc": stamp(t0), "transaction_deny_reason": ""}]
    feed = load(database, hasher, operator_id, littlepay(operator_id, v1, columns=LITTLEPAY_V1), "littlepay-v3")
    assert (feed["status"], feed["detected_format"], feed["accepted"]) == ("done", "littlepay-v1", 1)
    assert [j.member_id for j in journeys_of(database, operator_id)] == [member_id]


def test_distance_comes_from_gtfs_stops_when_taps_have_no_position(database, hasher, operator):
    stops_txt = (b"stop_id,stop_name,stop_lat,stop_lon,location_type\nS1001,Headrow,53.7997,-1.5492,0\n"
                 b"S2040,Roundhay Park,53.8392,-1.4963,0\nN1,Node,,,3\nBAD,Bad,91,0,0\n")
    with database.transaction() as session:
        loaded = gtfs_stops.load(session, operator, io.BytesIO(stops_txt))
    assert (loaded.stops, loaded.skipped, [(e.line, e.field) for e in loaded.errors]) == (2, 1, [(5, "stop_lat")])
    t0 = datetime.now(UTC) - timedelta(days=1)
    load(database, hasher, operator, littlepay(operator, [
        tap("g-on", "fs-g", t0, location_id="S1001"),
        tap("g-off", "fs-g", t0 + timedelta(minutes=20), "off", location_id="S2040")]))
    (journey,) = journeys_of(database, operator)
    assert journey.distance_source == "stops" and 5.5 < journey.distance_km < 5.7


def test_a_card_linked_later_earns_its_journeys_from_the_last_14_days_only(database, hasher, operator, member_id):
    now = datetime.now(UTC).replace(microsecond=0)
    load(database, hasher, operator, littlepay(operator, [
        tap("old", "fs-h", now - timedelta(days=20), "single"),
        tap("recent", "fs-h", now - timedelta(days=10), "single")]))
    assert [j.member_id for j in journeys_of(database, operator)] == [None, None]
    link(database, hasher, operator, "fs-h", member_id, now=now)
    assert [j.member_id for j in journeys_of(database, operator)] == [None, member_id]
    load(database, hasher, operator, littlepay(operator, [tap("late-old", "fs-h", now - timedelta(days=15),
                                                              "single"),
                                                          tap("late-new", "fs-h", now - timedelta(days=13),
                                                              "single")]))
    assert [j.member_id for j in journeys_of(database, operator)] == [None, None, member_id, member_id]
    assert len(events_for(database, member_id)) == 2


def test_the_cli_loads_a_generated_file_with_a_progress_bar(database, operator, stack_env, tmp_path: Path):
    import os
    import subprocess
    import sys

    from transit_ingest.samples import write_littlepay

    path = write_littlepay(tmp_path / "202611240600_device-transactions.psv", 2000, participant=operator,
                           prefix=f"smoke-{operator}")
    cli = [os.path.join(os.path.dirname(sys.executable), "rewards"), "feeds", "load", str(path),
           "--operator", operator, "--format", "littlepay-v3"]
    done = subprocess.run(cli, env={**os.environ, **stack_env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["status"], summary["rows"], summary["accepted"], summary["rejected"]) == \
        ("done", 2000, 2000, 0)
    assert "100%" in done.stderr
    with database.transaction() as session:
        count = session.execute(sa.select(sa.func.count()).select_from(Journey)
                                .where(Journey.operator_id == operator)).scalar()
    assert 900 <= count <= 1000


class Stop(Exception):
    pass


def test_a_feed_stopped_half_way_resumes_where_it_stopped_and_gives_up_after_three_tries(database, hasher,
                                                                                          operator):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    body = littlepay(operator, [tap(f"r-{i}", f"fs-r{i}", t0 + timedelta(minutes=i), "single") for i in range(7)])
    with database.transaction() as session:
        feed_id = feeds.receive(session, operator, "littlepay-v3", io.BytesIO(body)).id

    def crash(progress):
        raise Stop

    def stale(feed):
        with database.transaction() as session:
            session.execute(sa.text("UPDATE feeds SET heartbeat_at = now() - interval '1 hour' WHERE id = :id"),
                            {"id": feed})

    assert feeds.claim(database, feed_id) == feed_id
    with pytest.raises(Stop):
        feeds.process(database, feed_id, hasher, on_progress=crash, chunk_rows=3)
    assert feeds.claim(database, feed_id) is None, "a processor that still beats keeps its feed"
    stale(feed_id)
    assert feeds.claim(database, feed_id) == feed_id
    assert feeds.process(database, feed_id, hasher, chunk_rows=3) == "done"
    with database.transaction() as session:
        done = feeds.get(session, operator, feed_id)
        assert (done.rows, done.accepted, done.duplicates, done.attempts) == (7, 7, 0, 2)

    with database.transaction() as session:
        poison = feeds.receive(session, operator, "littlepay-v3", io.BytesIO(body)).id
    for _ in range(3):
        assert feeds.claim(database, poison) == poison
        with pytest.raises(Stop):
            feeds.process(database, poison, hasher, on_progress=crash, chunk_rows=100)
        stale(poison)
    assert feeds.claim(database, poison) is None
    with database.transaction() as session:
        failed = feeds.get(session, operator, poison)
        assert failed.status == "failed" and "3 times" in failed.reason and failed.content_oid is None


def test_the_same_taps_pushed_at_once_from_many_places_make_one_journey(database, hasher, operator, member_id):
    from concurrent.futures import ThreadPoolExecutor

    from transit_ingest import ingest

    link(database, hasher, operator, "fs-race", member_id)
    t0 = datetime.now(UTC).replace(microsecond=0) - HOUR
    rows = [{"tap_id": "race-on", "card_ref": "fs-race", "occurred_at": t0.isoformat(), "type": "on", "mode": "bus"},
            {"tap_id": "race-off", "card_ref": "fs-race", "occurred_at": (t0 + timedelta(minutes=9)).isoformat(),
             "type": "off", "mode": "bus"}]
    valid, errors = ingest.validate_rows(rows)
    assert errors == []

    def push(_):
        with database.transaction() as session:
            return ingest.ingest(session, operator, valid, hasher).accepted

    with ThreadPoolExecutor(max_workers=6) as pool:
        accepted = list(pool.map(push, range(6)))
    assert sorted(accepted) == [0, 0, 0, 0, 0, 2]
    assert [(j.kind, j.member_id) for j in journeys_of(database, operator)] == [("paired", member_id)]
    assert [kind for kind, _ in events_for(database, member_id)] == ["transit.journey.completed"]


# Files that are not what they say: another separator, another format's header, many bad rows, a file cut
# short, a byte order mark and Windows line ends. Each ends with a status saying what happened, the bad rows
# by line, and the good rows stored once.

YESTERDAY = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def tides(rows: list[dict], columns=TIDES, sep=",") -> bytes:
    base = {"service_date": YESTERDAY.date().isoformat(), "event_timestamp": YESTERDAY.isoformat(),
            "amount": "2.00", "fare_action": "Enter", "fare_capped": "false"}
    lines = [sep.join(columns)] + [sep.join({**base, **row}.get(c, "") for c in columns) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def stored(database, operator_id) -> dict[str, Tap]:
    with database.transaction() as session:
        return {t.tap_id: t for t in session.execute(sa.select(Tap).where(Tap.operator_id == operator_id)).scalars()}


def report(database, feed) -> list[tuple[int, str, str]]:
    text = "".join(feeds.rejection_report(database, uuid.UUID(str(feed["id"]))))
    return [(int(line), field, message) for line, field, message in list(csv.reader(io.StringIO(text)))[1:]]


@pytest.mark.parametrize(("sep", "name"), [(",", "comma"), ("\t", "tab"), (";", "semicolon")])
def test_a_littlepay_file_with_another_separator_says_pipes_were_expected(database, hasher, operator, sep, name):
    body = littlepay(operator, [tap("lp-1", "fs-1", YESTERDAY)], sep=sep)
    feed = load(database, hasher, operator, body)
    assert feed["status"] == "failed" and feed["rows"] == 0
    assert f"The header is {name}-separated: expected pipe-separated Littlepay v3" in feed["reason"]
    assert "transaction_date_time_utc" not in feed["reason"]


def test_a_tides_file_with_pipes_says_commas_were_expected(database, hasher, operator):
    feed = load(database, hasher, operator, tides([{"transaction_id": "t1", "token_id": "tok"}], sep="|"), "tides")
    assert feed["status"] == "failed"
    assert "The header is pipe-separated: expected comma-separated TIDES fare_transactions" in feed["reason"]


@pytest.mark.parametrize(("fmt", "body", "says"), [
    ("littlepay-v3", tides([{"transaction_id": "t1", "token_id": "tok"}]),
     "This is a comma-separated TIDES fare_transactions file, sent as littlepay-v3: expected pipe-separated "
     "Littlepay v3 (device_transactions). Send it again with format=tides."),
    ("tides", littlepay("op", [tap("lp-1", "fs-1", YESTERDAY)]),
     "This is a pipe-separated Littlepay v3 (device_transactions) file, sent as tides: expected comma-separated "
     "TIDES fare_transactions. Send it again with format=littlepay-v3."),
    ("tides", b"stop_id,stop_name,stop_lat,stop_lon\nS1,Headrow,53.79,-1.54\n",
     "Not a TIDES fare_transactions file: the header lacks transaction_id, service_date, event_timestamp"),
    ("littlepay-v3", b"participant_id|customer_id|funding_source_id|issuer\nop|c-1|fs-1|V\n",
     "Not a Littlepay device_transactions file: the header lacks littlepay_transaction_id, type, "
     "transaction_outcome, transaction_timestamp_utc."),
])
def test_a_header_from_another_format_names_the_format_it_is(database, hasher, operator, fmt, body, says):
    feed = load(database, hasher, operator, body, fmt)
    assert (feed["status"], feed["rows"]) == ("failed", 0) and says in feed["reason"]


def test_every_tenth_row_bad_is_reported_by_line_and_the_rest_stored_once(database, hasher, operator, tmp_path):
    rows = 20_000
    path = tmp_path / "bad-rows.psv"
    bad = write_littlepay_with_bad_rows(path, rows, participant=operator, prefix=operator)
    body = path.read_bytes()
    assert len(bad) == rows // 10

    with database.transaction() as session:
        feed = feeds.receive(session, operator, "littlepay-v3", io.BytesIO(body), filename=path.name)
    assert feeds.claim(database, feed.id) == feed.id
    assert feeds.process(database, feed.id, hasher, chunk_rows=3_000) == "done"
    with database.transaction() as session:
        done = feeds.get(session, operator, feed.id)
        counts = (done.status, done.rows, done.accepted, done.rejected, done.duplicates)
    assert counts == ("done", rows, rows - len(bad), len(bad), 0)
    rejected = report(database, {"id": feed.id})
    assert len(rejected) == len(bad) and {line: field for line, field, _ in rejected} == bad
    assert any(message == "Not UTF-8 text." for _, _, message in rejected)
    assert len(stored(database, operator)) == rows - len(bad)

    again = load(database, hasher, operator, body)
    assert (again["status"], again["accepted"], again["duplicates"], again["rejected"]) == \
        ("done", 0, rows - len(bad), len(bad))
    assert len(stored(database, operator)) == rows - len(bad)


def test_a_file_cut_off_mid_row_rejects_that_row_as_cut_short(database, hasher, operator):
    whole = littlepay(operator, [tap(f"lp-{n}", "fs-1", YESTERDAY + timedelta(minutes=n)) for n in range(5)])
    feed = load(database, hasher, operator, whole[:whole.rindex(b"lp-4") + 4])
    assert (feed["status"], feed["rows"], feed["accepted"], feed["rejected"]) == ("done", 5, 4, 1)
    [(line, field, message)] = report(database, feed)
    assert (line, field) == (6, "_row") and "The file ends part-way through this row: was it cut short?" in message
    assert sorted(stored(database, operator)) == ["lp-0", "lp-1", "lp-2", "lp-3"]

    quoted = tides([{"transaction_id": "t1", "token_id": "tok"}, {"transaction_id": "t2", "token_id": "tok"}])
    cut = quoted + b'"t3,' + YESTERDAY.date().isoformat().encode()
    feed = load(database, hasher, operator, cut, "tides")
    assert (feed["status"], feed["accepted"], feed["rejected"]) == ("done", 2, 1)
    [(line, field, message)] = report(database, feed)
    assert (line, field) == (4, "_row") and message.startswith("Cannot be read") and "cut short" in message


@pytest.mark.parametrize("fmt", ["littlepay-v3", "tides"])
def test_a_byte_order_mark_and_windows_line_ends_read_like_any_file(database, hasher, operator, fmt):
    if fmt == "tides":
        columns = [c for c in TIDES if c != "stop_id"] + ["stop_id"]
        body = tides([{"transaction_id": f"t{n}", "token_id": "tok", "stop_id": f"S{n}"} for n in range(3)],
                     columns=columns)
    else:
        columns = [c for c in LITTLEPAY_V3 if c != "location_id"] + ["location_id"]
        body = littlepay(operator, [tap(f"t{n}", "fs-1", YESTERDAY + timedelta(minutes=n), location_id=f"S{n}")
                                    for n in range(3)], columns=columns)
    feed = load(database, hasher, operator, b"\xef\xbb\xbf" + body.replace(b"\n", b"\r\n"), fmt)
    assert (feed["status"], feed["detected_format"], feed["rows"], feed["accepted"], feed["rejected"]) == \
        ("done", fmt, 3, 3, 0)
    assert {tap_id: t.stop_id for tap_id, t in stored(database, operator).items()} == \
        {"t0": "S0", "t1": "S1", "t2": "S2"}
