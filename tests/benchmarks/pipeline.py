"""The whole pipeline against its raw parts, measured side by side in one run (`make bench`).

1. raw Kafka: kafka-python producing and consuming 1 KB messages with the services' client settings;
2. raw PostgreSQL: batched inserts of rows shaped like ledger transfers;
3. end to end: a Littlepay file of N taps for many members → journeys → ledger credits → inbox items,
   at saturation; the same taps pushed as JSON batches (taps/s accepted, and to the last inbox item); and
   tap accepted → balance visible at a fixed offered rate of 500 taps/s;
4. HTTP under gunicorn with wrk: balance reads and card-link writes;
5. redemption: request → issued.

6. scaling: the file and the JSON pushes end to end again with 1, 2 and 4 worker processes per service
   (`--workers`), and taps/s per core of this machine.

Prints one table with the ratios and writes it as JSON to tests/benchmarks/results/. Absolute times
drift between machines, and a shared machine's load moves them: each figure carries the load average
when it was taken. The ratios are what to compare. Figures are never asserted.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from rewards_shared import auth, devstack, kafka
from rewards_shared.config import Settings
from rewards_shared.db import libpq_url
from rewards_shared.service import discover
from rewards_shared.topics import TopicSpec
from tests.benchmarks.support import RESULTS, summary_ms
from tests.support.api import ServiceClient
from tests.support.polling import wait_for

OPERATOR = "bench-bus"


@dataclasses.dataclass
class Scale:
    kafka_messages: int = 50_000
    pg_rows: int = 200_000
    members: int = 2_000
    taps: int = 40_000
    rate_seconds: float = 20.0
    http_seconds: int = 10
    redemptions: int = 200

    @classmethod
    def smoke(cls) -> Scale:
        return cls(kafka_messages=1_000, pg_rows=5_000, members=40, taps=400, rate_seconds=2.0, http_seconds=1,
                   redemptions=10)


@dataclasses.dataclass
class Target:
    """A running stack to measure: its settings and how to call it."""
    env: dict[str, str]
    urls: dict[str, str]
    token: Callable[[str], str]

    def client(self, service: str, role: str | None = "app") -> ServiceClient:
        return ServiceClient(self.urls[service], self.token(role) if role else None)

    def database_url(self, service: str) -> str:
        return Settings.from_env(service, self.env).database_url

    @property
    def bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]


# --- 1. raw Kafka ---------------------------------------------------------------------------------

def raw_kafka(target: Target, messages: int) -> dict:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(target.bootstrap, (TopicSpec(topic, partitions=6),))
    payload = os.urandom(512).hex().encode()
    producer = kafka.producer(target.bootstrap, "bench-raw")
    started = time.perf_counter()
    for n in range(messages):
        producer.send(topic, key=str(n % 1000).encode(), value=payload)
    producer.flush()
    produced = messages / (time.perf_counter() - started)
    producer.close()
    consumer = kafka.consumer(target.bootstrap, f"bench-raw-{uuid.uuid4().hex[:6]}", "bench-raw")
    consumer.subscribe([topic])
    seen, started = 0, None
    deadline = time.monotonic() + 120
    while seen < messages and time.monotonic() < deadline:
        polled_at = time.perf_counter()
        batch = consumer.poll(timeout_ms=500, max_records=5000)
        if batch and started is None:
            started = polled_at
        seen += sum(len(records) for records in batch.values())
    consumed = seen / (time.perf_counter() - started) if started else 0.0
    consumer.close()
    return {"messages": messages, "message_bytes": len(payload), "produce_per_s": round(produced),
            "consume_per_s": round(consumed)}


# --- 2. raw PostgreSQL ----------------------------------------------------------------------------

def raw_postgres(target: Target, rows: int, batch: int = 1000) -> dict:
    """Rows shaped like ledger transfers, inserted in batches with one commit each."""
    table = f"bench_rows_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(target.database_url("points")), autocommit=True) as connection:
        connection.execute(f"""CREATE TABLE {table} (id uuid PRIMARY KEY, seq bigint GENERATED ALWAYS AS IDENTITY,
            debit_account_id text NOT NULL, credit_account_id text NOT NULL, amount bigint NOT NULL,
            code text NOT NULL, member_id text, source_type text, source_id text,
            created_at timestamptz NOT NULL DEFAULT now())""")
        connection.execute(f"CREATE INDEX ON {table} (member_id, seq DESC)")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for start in range(0, rows, batch):
                values = [(uuid.uuid4(), "system:issuance", f"member:m{n % 5000}:available", 10, "earn",
                           f"m{n % 5000}", "journey", f"j{n}") for n in range(start, min(rows, start + batch))]
                with connection.transaction():
                    cursor.executemany(
                        f"INSERT INTO {table} (id, debit_account_id, credit_account_id, amount, code, member_id,"
                        " source_type, source_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", values)
        elapsed = time.perf_counter() - started
        connection.execute(f"DROP TABLE {table}")
    return {"rows": rows, "batch": batch, "rows_per_s": round(rows / elapsed)}


# --- 3. end to end --------------------------------------------------------------------------------

def _register_operator(target: Target) -> None:
    response = target.client("transit-ingest", "admin").post(
        "/v1/operators", json={"operator_id": OPERATOR, "name": "Benchmark buses"})
    assert response.status_code in (200, 201, 409), response.text


def _link_members(target: Target, prefix: str, count: int) -> list[str]:
    app = target.client("transit-ingest")
    points = target.client("points")
    members = [f"{prefix}-{n}" for n in range(count)]

    def link(n: int) -> None:
        points.post("/v1/members", json={"member_id": members[n]})
        response = app.post("/v1/card-links", json={"member_id": members[n], "operator_id": OPERATOR,
                                                    "card_ref": f"fs-{prefix}-{n:08d}"})
        assert response.status_code in (200, 201), response.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(link, range(count)))
    return members


def _littlepay_file(path: Path, taps: int, cards: int, prefix: str) -> Path:
    from transit_ingest.samples import littlepay_lines

    with path.open("w") as out:
        for line in littlepay_lines(taps, participant=OPERATOR, cards=cards, prefix=prefix):
            out.write(line.replace("|fs-", f"|fs-{prefix}-", 1) if not line.startswith("participant") else line)
    return path


def _count(url: str, sql: str, **params) -> int:
    with psycopg.connect(libpq_url(url)) as connection:
        return connection.execute(sql, params).fetchone()[0]


def end_to_end(target: Target, scale: Scale) -> dict:
    """Sustained taps/s: a whole file through every service until the last notification is written."""
    _register_operator(target)
    prefix = f"e2e{uuid.uuid4().hex[:6]}"
    members = _link_members(target, prefix, scale.members)
    with tempfile.TemporaryDirectory() as folder:
        path = _littlepay_file(Path(folder) / "bench_device-transactions.psv", scale.taps, scale.members, prefix)
        operator = target.client("transit-ingest", f"operator:{OPERATOR}")
        started = time.perf_counter()
        with path.open("rb") as body:
            uploaded = operator.post(f"/v1/operators/{OPERATOR}/feeds", params={"format": "littlepay-v3"},
                                     data=body, headers={"Content-Type": "application/octet-stream"}, timeout=600)
        assert uploaded.status_code == 202, uploaded.text
        feed_id = uploaded.json()["feed_id"]
        feed = wait_for(lambda: (f := operator.get(f"/v1/operators/{OPERATOR}/feeds/{feed_id}").json())
                        ["status"] in ("done", "failed") and f, timeout=900, interval=0.2, what="the feed")
        stored_at = time.perf_counter()
    settled_at, journeys, transfers = _settle(target, prefix)
    elapsed = settled_at - started
    figures = {"taps": scale.taps, "members": len(members), "feed_status": feed["status"],
               "accepted": feed.get("accepted"), "journeys": journeys, "ledger_transfers": transfers,
               "taps_stored_per_s": round(scale.taps / (stored_at - started)),
               "taps_per_s": round(scale.taps / elapsed), "ledger_rows_per_s": round(transfers / elapsed),
               "seconds": round(elapsed, 1)}
    if "impact" in target.urls:  # the read side: how far behind the ledger it finished (its database is fresh)
        impact = target.database_url("impact")
        wait_for(lambda: _count(impact, "SELECT count(*) FROM journeys") >= figures["journeys"]
                 and _count(impact, "SELECT count(*) FROM movements") >= transfers,
                 timeout=1800, interval=0.5, what="the impact service to file every journey and credit")
        figures["impact_done_after_s"] = round(time.perf_counter() - started, 1)
    return figures


def _settle(target: Target, prefix: str) -> tuple[float, int, int]:
    """Wait until every journey of the run's members is credited and notified: (seconds since
    `perf_counter` zero, journeys, ledger transfers)."""
    pattern = f"{prefix}-%"
    transit, points, notes = (target.database_url(s) for s in ("transit-ingest", "points", "notifications"))

    def announced() -> int:
        return _count(transit, "SELECT count(*) FROM journeys WHERE member_id LIKE %(p)s AND announced_revision > 0",
                      p=pattern)

    def settled() -> bool:
        expected = announced()
        ledger = _count(points, "SELECT count(*) FROM earnings WHERE member_id LIKE %(p)s", p=pattern)
        earned = _count(points, "SELECT count(*) FROM transfers WHERE member_id LIKE %(p)s AND code = 'earn'",
                        p=pattern)
        inbox = _count(notes, "SELECT count(*) FROM inbox WHERE member_id LIKE %(p)s AND type = 'points.earned'",
                       p=pattern)
        return expected > 0 and ledger >= expected and inbox >= earned

    wait_for(settled, timeout=1800, interval=0.5, what="every journey credited and notified")
    settled_at = time.perf_counter()
    transfers = _count(points, "SELECT count(*) FROM transfers WHERE member_id LIKE %(p)s", p=pattern)
    return settled_at, announced(), transfers


def json_pushes(target: Target, scale: Scale, batch: int = 1000, clients: int = 4) -> dict:
    """The same number of taps as the file, pushed as JSON batches of `batch` from `clients` at once, as
    fast as they are answered: taps/s accepted, then taps/s to the last journey credited and notified.
    Each card's tap-on and tap-off often fall in different pushes, as they do when an operator pushes
    as it goes."""
    _register_operator(target)
    prefix = f"push{uuid.uuid4().hex[:6]}"
    members = _link_members(target, prefix, scale.members)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
    taps = []
    for index in range(scale.taps):
        card, off, journey = (index // 2) % len(members), index % 2 == 1, index // (2 * len(members))
        at = base + timedelta(minutes=40 * journey + (15 if off else 0), seconds=card % 600)
        taps.append({"tap_id": f"{prefix}-{index}", "card_ref": f"fs-{prefix}-{card:08d}",
                     "occurred_at": at.isoformat(), "type": "off" if off else "on", "outcome": "allow",
                     "mode": "bus", "stop_id": f"S{index % 500}", "latitude": 53.80 + (0.04 if off else 0),
                     "longitude": -1.55 + (0.05 if off else 0)})
    batches = [taps[n:n + batch] for n in range(0, len(taps), batch)]
    operator = target.client("transit-ingest", f"operator:{OPERATOR}")

    def push(body: list[dict]) -> int:
        response = operator.post(f"/v1/operators/{OPERATOR}/taps", json={"taps": body}, timeout=300)
        assert response.status_code == 202, response.text
        return response.json()["accepted"]

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        accepted = sum(pool.map(push, batches))
    answered = time.perf_counter()
    settled_at, journeys, transfers = _settle(target, prefix)
    return {"taps": scale.taps, "batch": batch, "clients": clients, "accepted": accepted, "journeys": journeys,
            "ledger_transfers": transfers, "accepted_per_s": round(scale.taps / (answered - started)),
            "taps_per_s": round(scale.taps / (settled_at - started)), "seconds": round(settled_at - started, 1)}


def tap_to_balance(target: Target, scale: Scale, rate: int = 500, tick: float = 0.1) -> dict:
    """Offer `rate` taps/s as JSON pushes on a fixed schedule; for one journey per tick, time from the
    push's answer to the member's balance showing the credit (a fresh member each time, so the change
    is its own). The other journeys of each push are background members' and earn too, as most journeys
    in a city do: each member's journeys are spread over days so none reaches the daily cap (a capped
    journey costs the ledger almost nothing, and would flatter the figure)."""
    _register_operator(target)
    prefix = f"lat{uuid.uuid4().hex[:6]}"
    ticks = int(scale.rate_seconds / tick)
    per_tick = max(2, int(rate * tick)) // 2 * 2
    background = max(1, min(scale.members, 400))
    _link_members(target, prefix + "b", background)
    samples = _link_members(target, prefix + "s", ticks)
    now = datetime.now(UTC)
    base = now.replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=10 if now.hour >= 9 else 11)
    outstanding: dict[str, float] = {}
    latencies: list[float] = []
    pushed_at: list[float] = []  # when each sample's push was answered, in step with `latencies`
    lock = threading.Lock()
    pushing = threading.Event()

    def pair(card: str, n: int, at: datetime) -> list[dict]:
        tap = {"card_ref": card, "type": "on", "outcome": "allow", "mode": "bus", "stop_id": "S1",
               "latitude": 53.80, "longitude": -1.55}
        return [dict(tap, tap_id=f"{card}-{n}-on", occurred_at=at.isoformat()),
                dict(tap, tap_id=f"{card}-{n}-off", type="off", stop_id="S2", latitude=53.84, longitude=-1.50,
                     occurred_at=(at + timedelta(minutes=15)).isoformat())]

    def push(step: int) -> None:
        taps = pair(f"fs-{prefix}s-{step:08d}", 0, base + timedelta(seconds=step))
        others = per_tick // 2 - 1
        for n in range(others):
            journey = step * others + n
            # each background card's journeys follow one another, two hours apart, four a day (the cap)
            card, k = journey % background, journey // background
            taps += pair(f"fs-{prefix}b-{card:08d}", k, base + timedelta(days=k // 4, hours=2 * (k % 4)))
        response = target.client("transit-ingest", f"operator:{OPERATOR}").post(
            f"/v1/operators/{OPERATOR}/taps", json={"taps": taps})
        assert response.status_code == 202, response.text
        with lock:
            outstanding[samples[step]] = time.perf_counter()

    def watch() -> None:
        """Reads what the balance API reads (the member's account row), for every outstanding member in
        one query each round, so the measurement is exact to the commit and adds almost no load."""
        deadline = None
        with psycopg.connect(libpq_url(target.database_url("points")), autocommit=True) as connection:
            while True:
                with lock:
                    waiting = dict(outstanding)
                if not waiting and not pushing.is_set():
                    return
                if not pushing.is_set():
                    deadline = deadline or time.monotonic() + 60
                    if time.monotonic() > deadline:
                        return
                if waiting:
                    credited = connection.execute(
                        "SELECT member_id FROM accounts WHERE kind = 'member_available' AND credits_posted > 0"
                        " AND member_id = ANY(%s)", (list(waiting),)).fetchall()
                    seen_at = time.perf_counter()
                    with lock:
                        for (member_id,) in credited:
                            latencies.append(seen_at - waiting[member_id])
                            pushed_at.append(waiting[member_id])
                            outstanding.pop(member_id, None)
                time.sleep(0.005)

    pushing.set()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        pushes = []
        for step in range(ticks):
            pushes.append(pool.submit(push, step))
            time.sleep(max(0.0, started + (step + 1) * tick - time.perf_counter()))
    offered = ticks * per_tick / (time.perf_counter() - started)
    for done in pushes:
        done.result()
    pushing.clear()
    watcher.join(timeout=90)
    return {"offered_taps_per_s": round(offered), "samples": len(latencies), "missed": ticks - len(latencies),
            **summary_ms(latencies), "by_window": _by_window(pushed_at, latencies, started)}


def _by_window(pushed_at: list[float], latencies: list[float], started: float, window: float = 2.0) -> list[dict]:
    """The latencies by when their push was answered (windows of `window` seconds from the start), so a
    tail shows whether it is spread out or one stall."""
    windows: dict[int, list[float]] = {}
    for at, latency in zip(pushed_at, latencies, strict=True):
        windows.setdefault(int((at - started) // window), []).append(latency)
    return [{"from_s": n * window, **{k: v for k, v in summary_ms(found).items() if k in ("count", "p50_ms", "max_ms")}}
            for n, found in sorted(windows.items())]


# --- 4. HTTP with wrk -----------------------------------------------------------------------------

_LINK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"member_id":"%s-%d-%d","operator_id":"%s","card_ref":"wrk-%s-%d-%d"}',
    prefix, thread_id, counter, operator, prefix, thread_id, counter)
  return wrk.format("POST", "/v1/card-links", nil, body)
end
setup = function(thread) thread:set("thread_id", math.random(1, 1000000000)) end
init = function(args) prefix = args[1]; operator = args[2]
  wrk.headers["Content-Type"] = "application/json" end
"""


def _wrk(url: str, token: str, seconds: int, script: str | None = None, args: tuple[str, ...] = ()) -> dict:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {token}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    if script:
        command += ["-s", lua.name]
    output = subprocess.run(command + [url] + (["--", *args] if args else []), capture_output=True, text=True,
                            timeout=seconds + 60).stdout
    os.unlink(lua.name)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    unit = {"us": 0.001, "ms": 1, "s": 1000}
    return {"requests_per_s": round(float(rate.group(1))) if rate else None,
            "p50_ms": round(float(p50.group(1)) * unit[p50.group(2)], 2) if p50 else None,
            "p99_ms": round(float(p99.group(1)) * unit[p99.group(2)], 2) if p99 else None,
            "non_2xx": int(errors.group(1)) if errors else 0}


def http(target: Target, scale: Scale) -> dict:
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (apt-get install -y wrk)"}
    member = _link_members(target, f"http{uuid.uuid4().hex[:6]}", 1)[0]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: target.client("points", "finance").post(
            "/v1/adjustments", json={"member_id": member, "points": 5, "reason": "bench"},
            headers={"Idempotency-Key": f"{member}-{n}"}), range(50)))
    reads = _wrk(f"{target.urls['points']}/v1/members/{member}/balance", target.token("app"), scale.http_seconds)
    writes = _wrk(target.urls["transit-ingest"], target.token("app"), scale.http_seconds, _LINK_SCRIPT,
                  (f"w{uuid.uuid4().hex[:6]}", OPERATOR))
    return {"balance_reads": reads, "card_link_writes": writes}


# --- 5. redemption --------------------------------------------------------------------------------

def redemption(target: Target, scale: Scale) -> dict:
    from tests.benchmarks.test_redemption_latency import prepare, run

    reward_id = prepare(target.client)
    run(target.client, reward_id, 1, 5)
    _, issued, per_second = run(target.client, reward_id, 1, scale.redemptions)
    return {"request_to_issued": summary_ms(issued), "redemptions_per_s": round(per_second, 1)}


# --- the run --------------------------------------------------------------------------------------

GOALS = {
    "end_to_end.taps_per_s": ">= 5000",
    "json_push.accepted_per_s": ">= 3000",
    "json_push.taps_per_s": ">= 3000",
    "tap_to_balance.p99_ms": "< 1000 at 500 taps/s",
    "http.balance_reads.requests_per_s": ">= 2000",
    "http.balance_reads.p99_ms": "< 50",
    "redemption.request_to_issued.p99_ms": "< 1000",
}


STEPS = ("raw_kafka", "raw_postgres", "end_to_end", "json_push", "tap_to_balance", "http", "redemption")


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages (its other users count too)."""
    return [round(value, 2) for value in os.getloadavg()]


def measure(target: Target, scale: Scale, steps: tuple[str, ...] = STEPS) -> dict:
    figures: dict = {"services": sorted(target.urls)}
    run_step = {"raw_kafka": lambda: raw_kafka(target, scale.kafka_messages),
                "raw_postgres": lambda: raw_postgres(target, scale.pg_rows),
                "end_to_end": lambda: end_to_end(target, scale),
                "json_push": lambda: json_pushes(target, scale),
                "tap_to_balance": lambda: tap_to_balance(target, scale),
                "http": lambda: http(target, scale),
                "redemption": lambda: redemption(target, scale)}
    for name in (step for step in STEPS if step in steps):
        started, load = time.perf_counter(), load_average()
        figures[name] = run_step[name]()
        figures[name]["measured_in_s"] = round(time.perf_counter() - started, 1)
        figures[name]["load_average"] = {"before": load, "after": load_average()}
        print(f"  {name}: {json.dumps(figures[name])}", flush=True)
    if "end_to_end" in figures and "raw_kafka" in figures and "raw_postgres" in figures:
        figures["ratios"] = {
            "end_to_end_taps_per_raw_kafka_message": round(
                figures["end_to_end"]["taps_per_s"] / max(1, figures["raw_kafka"]["consume_per_s"]), 4),
            "ledger_rows_per_raw_postgres_row": round(
                figures["end_to_end"]["ledger_rows_per_s"] / max(1, figures["raw_postgres"]["rows_per_s"]), 4),
        }
    return figures


def scaling(target: Target, scale: Scale, workers: int, restart: Callable[[int], None]) -> dict:
    """The file and the JSON pushes end to end with `workers` worker processes per service (the web
    processes stay as they are), and what that comes to per core of this machine."""
    restart(workers)
    cores = os.cpu_count() or 1
    figures: dict = {"workers": workers, "cores": cores}
    for name, step in (("file", end_to_end), ("json_push", json_pushes)):
        load = load_average()
        found = step(target, scale)
        figures[name] = {"taps_per_s": found["taps_per_s"], "taps_per_s_per_core": round(found["taps_per_s"] / cores),
                         "seconds": found["seconds"], "journeys": found["journeys"],
                         "load_average": {"before": load, "after": load_average()}}
        if "accepted_per_s" in found:
            figures[name]["accepted_per_s"] = found["accepted_per_s"]
    print(f"  scaling: {json.dumps(figures)}", flush=True)
    return figures


def _get(figures: dict, dotted: str):
    for part in dotted.split("."):
        figures = figures.get(part, {}) if isinstance(figures, dict) else {}
    return figures if figures != {} else None


def table(figures: dict) -> str:
    rows = [
        ("raw Kafka produce (1 KB msgs/s)", _get(figures, "raw_kafka.produce_per_s"), ""),
        ("raw Kafka consume (1 KB msgs/s)", _get(figures, "raw_kafka.consume_per_s"), ""),
        ("raw PostgreSQL inserts (rows/s)", _get(figures, "raw_postgres.rows_per_s"), ""),
        ("end to end (taps/s, sustained)", _get(figures, "end_to_end.taps_per_s"), GOALS["end_to_end.taps_per_s"]),
        ("  taps stored by transit (taps/s)", _get(figures, "end_to_end.taps_stored_per_s"), ""),
        ("  ledger rows written (rows/s)", _get(figures, "end_to_end.ledger_rows_per_s"), ""),
        ("  impact done (s after the upload)", _get(figures, "end_to_end.impact_done_after_s"), ""),
        ("JSON pushes accepted (taps/s)", _get(figures, "json_push.accepted_per_s"), GOALS["json_push.accepted_per_s"]),
        ("JSON pushes end to end (taps/s)", _get(figures, "json_push.taps_per_s"), GOALS["json_push.taps_per_s"]),
        ("tap → balance p50 (ms) at 500/s", _get(figures, "tap_to_balance.p50_ms"), ""),
        ("tap → balance p99 (ms) at 500/s", _get(figures, "tap_to_balance.p99_ms"), GOALS["tap_to_balance.p99_ms"]),
        ("balance reads (req/s)", _get(figures, "http.balance_reads.requests_per_s"),
         GOALS["http.balance_reads.requests_per_s"]),
        ("balance reads p99 (ms)", _get(figures, "http.balance_reads.p99_ms"), GOALS["http.balance_reads.p99_ms"]),
        ("card-link writes (req/s)", _get(figures, "http.card_link_writes.requests_per_s"), ""),
        ("card-link writes p99 (ms)", _get(figures, "http.card_link_writes.p99_ms"), ""),
        ("redemption → issued p50 (ms)", _get(figures, "redemption.request_to_issued.p50_ms"), ""),
        ("redemption → issued p99 (ms)", _get(figures, "redemption.request_to_issued.p99_ms"),
         GOALS["redemption.request_to_issued.p99_ms"]),
        ("ratio: e2e taps/s ÷ raw Kafka msgs/s", _get(figures, "ratios.end_to_end_taps_per_raw_kafka_message"), ""),
        ("ratio: ledger rows/s ÷ raw PG rows/s", _get(figures, "ratios.ledger_rows_per_raw_postgres_row"), ""),
    ]
    cores = os.cpu_count() or 1
    for point in figures.get("scaling", []):
        for kind in ("file", "json_push"):
            rows.append((f"{kind} e2e, {point['workers']} worker(s)/service (taps/s)",
                         _get(point, f"{kind}.taps_per_s"),
                         f"{_get(point, f'{kind}.taps_per_s_per_core')} per core of {cores}; "
                         f"load {_get(point, f'{kind}.load_average.before')}"))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure':<{width}}  {'figure':>12}  goal", "-" * (width + 30)]
    lines += [f"{name:<{width}}  {('—' if value is None else value):>12}  {goal}" for name, value, goal in rows]
    return "\n".join(lines)


def write(figures: dict, scale: Scale, smoke: bool) -> Path:
    RESULTS.mkdir(exist_ok=True)
    now = datetime.now(UTC)
    entry = {"benchmark": "pipeline", "smoke": smoke, "date": now.isoformat(timespec="seconds"),
             "cpus": os.cpu_count(), "load_average_at_end": load_average(), "scale": dataclasses.asdict(scale),
             "goals": GOALS, **figures}
    path = RESULTS / f"pipeline{'-smoke' if smoke else ''}-{now:%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(entry, indent=2) + "\n")
    (RESULTS / f"pipeline{'-smoke' if smoke else ''}-latest.json").write_text(json.dumps(entry, indent=2) + "\n")
    return path


def run(target: Target, scale: Scale, smoke: bool = False, steps: tuple[str, ...] = STEPS,
        workers: tuple[int, ...] = (), restart: Callable[[int], None] | None = None) -> tuple[dict, Path]:
    figures = measure(target, scale, steps)
    if workers and restart is not None:
        figures["scaling"] = [scaling(target, scale, count, restart) for count in workers]
    print("\n" + table(figures) + "\n", flush=True)
    return figures, write(figures, scale, smoke)


def _counts(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to prove the run works")
    parser.add_argument("--without", action="append", default=[], metavar="SERVICE",
                        help="leave a service out (e.g. impact, to see what the read side costs the pipeline)")
    parser.add_argument("--workers", type=_counts, default=(1, 2, 4), metavar="N,N,…",
                        help="worker processes per service for the scaling curve (default 1,2,4; '' for none); "
                             "every topic has 6 partitions, so up to 6 share the work")
    parser.add_argument("--only", action="append", choices=STEPS + ("scaling",), metavar="STEP",
                        help=f"measure only these steps ({', '.join(STEPS)}, or just the scaling curve: scaling)")
    parser.add_argument("--taps", type=int, help="taps per end-to-end run (default 40,000)")
    parser.add_argument("--members", type=int, help="members (and cards) per end-to-end run (default 2,000)")
    options = parser.parse_args()
    scale = Scale.smoke() if options.smoke else Scale()
    scale = dataclasses.replace(scale, taps=options.taps or scale.taps, members=options.members or scale.members)
    stack = dataclasses.replace(devstack.Stack.for_tests(slot=int(os.environ.get("BENCH_SLOT", "8"))),
                                web_concurrency=2, worker_processes=int(os.environ.get("BENCH_WORKERS", "2")))
    running = [stack]
    devstack.infra_up(stack)
    try:
        env = prepare_bench_stack(stack)
        services = {name: info for name, info in discover().items() if name not in options.without}
        devstack.services_up(stack, env, services)
        key = Path(env["REWARDS_SIGNING_KEY_FILE"]).read_text()
        target = Target(env=env, urls={name: stack.base_url(info) for name, info in services.items()},
                        token=lambda role: auth.issue(key, role)[0])

        def restart(workers: int) -> None:
            devstack.services_down(running[0], services)
            running[0] = dataclasses.replace(stack, worker_processes=workers)
            devstack.services_up(running[0], env, services)

        try:
            run(target, scale, options.smoke, tuple(options.only or STEPS), options.workers, restart)
        finally:
            devstack.services_down(running[0], services)
    finally:
        devstack.infra_down(stack, remove_data=True)


def prepare_bench_stack(stack: devstack.Stack) -> dict[str, str]:
    """Fresh databases for a run, so every figure starts from the same empty state."""
    from rewards_shared.db import drop_database

    devstack.ensure_keys(stack)
    env = {**stack.env(), "LOG_LEVEL": "WARNING"}
    for info in discover().values():
        drop_database(Settings.from_env(info.name, env).database_url)
    return devstack.prepare(stack) | {"LOG_LEVEL": "WARNING"}


if __name__ == "__main__":
    main()

