"""What survives a bad day (`make chaos`): a Littlepay v3 file and JSON pushes of taps for many members, and
redemptions at the same time, while processes are SIGKILLed and restarted and the broker and the database
are restarted. Then, polling with a deadline, everything expected FROM THE INPUT must be there exactly once:

- every journey credited once, at the points the default scheme gives it (bus, off-peak: 10 + 5; never more
  than four a London day per member, so no cap applies), and the balances that follow;
- every redemption in the one final state its script led to, its hold captured (redeemed) or released
  (cancelled, expired) or never made (rejected), nothing held at the end;
- one inbox item per ledger credit, none doubled;
- `rewards ledger verify` clean; nothing dead-lettered but the poison sent on purpose.

`python -m tests.chaos.scenario` (what `make chaos` runs) starts its own stack; `tests/e2e/test_chaos_short.py`
runs the same at a small size inside `make test`. Prints a table, writes results/chaos*.json and .md.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import requests
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from rewards_shared import auth, devstack
from rewards_shared.config import Settings
from rewards_shared.db import libpq_url
from rewards_shared.service import ServiceInfo, discover
from rewards_shared.topics import TRANSIT_JOURNEYS
from tests.benchmarks.support import RESULTS
from tests.support.api import ServiceClient
from tests.support.chaos import Chaos, Faults
from transit_ingest.formats import LITTLEPAY_V3

POINTS_PER_JOURNEY = 15  # the default scheme: a bus journey 10, off-peak +5
FILE_SLOTS = (10, 12)  # tap-on hours (UTC) of a file card's journeys each day: off-peak in London all year
PUSH_SLOTS = (14, 19)  # and of a pushed card's: with the file's, four a day, the daily cap, never past it
DAYS = 12  # journeys fall in the last 12 days: inside the 14 days a card linked later is credited for
COST, DEAR = 40, 1_000_000
BATCH = 200  # taps in one JSON push
SERVICE_ENV = {"VOUCHER_EXPIRY_EVERY_SECONDS": "2", "LOG_LEVEL": "WARNING"}


@dataclasses.dataclass(frozen=True)
class Size:
    taps: int = 100_000  # in the Littlepay file
    push_taps: int = 20_000  # in JSON pushes, on each member's second card
    members: int = 5_000
    redemptions: int = 1_000  # members who redeem (one reward each; every tenth also asks for one too dear)
    process_kills: int = 12
    broker_restarts: int = 1
    database_restarts: int = 1
    poison: int = 3
    seed: int = 1
    deadline_s: float = 1800.0  # to converge once the load and the faults are over

    @classmethod
    def short(cls) -> Size:
        return cls(taps=3_000, push_taps=600, members=300, redemptions=40, process_kills=3, poison=2,
                   deadline_s=300.0)

    @classmethod
    def from_env(cls, base: Size | None = None, env: dict[str, str] | None = None) -> Size:
        """CHAOS_TAPS, CHAOS_PUSH_TAPS, CHAOS_MEMBERS, CHAOS_REDEMPTIONS, CHAOS_PROCESS_KILLS,
        CHAOS_BROKER_RESTARTS, CHAOS_DATABASE_RESTARTS, CHAOS_POISON, CHAOS_SEED, CHAOS_DEADLINE_S."""
        base, env = base or cls(), os.environ if env is None else env
        return dataclasses.replace(base, **{
            f.name: type(getattr(base, f.name))(env[f"CHAOS_{f.name.upper()}"])
            for f in dataclasses.fields(cls) if env.get(f"CHAOS_{f.name.upper()}")})


@dataclasses.dataclass
class Plan:
    """The input and what it must lead to, computed from the input alone."""
    size: Size
    prefix: str
    base: datetime

    def __post_init__(self) -> None:
        per_member = max(self.size.taps // 2, self.size.push_taps // 2) / self.size.members
        if per_member > DAYS * 2:
            raise ValueError(f"at most {DAYS * 4} taps per member and source (a cap or the 14-day window "
                             "would change what they earn)")
        if self.size.redemptions > self.size.members:
            raise ValueError("redemptions are made by members, one each")

    @property
    def operator(self) -> str:
        return f"{self.prefix}-bus"

    @property
    def partner(self) -> str:
        return f"{self.prefix}-cafe"

    def member(self, n: int) -> str:
        return f"{self.prefix}-m{n}"

    def members(self) -> list[str]:
        return [self.member(n) for n in range(self.size.members)]

    def file_card(self, n: int) -> str:
        return f"{self.prefix}-f{n:06d}"

    def push_card(self, n: int) -> str:
        return f"{self.prefix}-p{n:06d}"

    def journeys(self, count: int, slots: tuple[int, int]) -> Iterator[tuple[int, datetime]]:
        """(member number, tap-on time) of each of `count` journeys, round the members, two a day each."""
        for k in range(count):
            n, j = k % self.size.members, k // self.size.members
            yield n, self.base + timedelta(days=j // 2, hours=slots[j % 2], seconds=n % 1800)

    def expected_journeys(self) -> Counter:
        found = Counter()
        for count, slots in ((self.size.taps // 2, FILE_SLOTS), (self.size.push_taps // 2, PUSH_SLOTS)):
            for n, _ in self.journeys(count, slots):
                found[self.member(n)] += 1
        return found

    def outcome(self, r: int) -> str:
        """What the script does with the r-th redeeming member's voucher."""
        return ("redeem", "redeem", "cancel", "expire")[r % 4]

    def dear(self, r: int) -> bool:
        return r % 10 == 9

    def expected_available(self) -> dict[str, int]:
        journeys = self.expected_journeys()
        available = {m: POINTS_PER_JOURNEY * journeys[m] for m in self.members()}
        for r in range(self.size.redemptions):
            available[self.member(r)] += 0 if self.outcome(r) == "redeem" else COST
        return available

    def littlepay(self, path: Path) -> Path:
        with path.open("w") as out:
            out.write("|".join(LITTLEPAY_V3) + "\n")
            for k, (n, on) in enumerate(self.journeys(self.size.taps // 2, FILE_SLOTS)):
                for kind, at, stop, lat, lon in (("on", on, "S1", 53.7997, -1.5492),
                                                 ("off", on + timedelta(minutes=20), "S2", 53.8392, -1.4963)):
                    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
                    out.write(f"{self.operator}|c-{n}|d-{k}-{kind}|{self.prefix}-t{k}-{kind}|val-{n % 97}|LP|{kind}|"
                              f"allow|{stamp}|{stop}|Stop {stop}|Z1|{n % 40}|bus|inbound|{lat}|{lon}|BUS-{n % 300}"
                              f"|||{stamp}||{stamp}|{self.file_card(n)}|TRANSIT\n")
        return path

    def push_batches(self) -> list[list[dict]]:
        taps = []
        for k, (n, on) in enumerate(self.journeys(self.size.push_taps // 2, PUSH_SLOTS)):
            tap = {"card_ref": self.push_card(n), "outcome": "allow", "mode": "bus", "route_id": "1"}
            taps += [dict(tap, tap_id=f"{self.prefix}-p{k}-on", type="on", occurred_at=on.isoformat(),
                          stop_id="S3", latitude=53.80, longitude=-1.55),
                     dict(tap, tap_id=f"{self.prefix}-p{k}-off", type="off", stop_id="S4", latitude=53.84,
                          longitude=-1.50, occurred_at=(on + timedelta(minutes=25)).isoformat())]
        return [taps[n:n + BATCH] for n in range(0, len(taps), BATCH)]


class Unexpected(AssertionError):
    pass


@dataclasses.dataclass
class Target:
    """A running stack: its settings, its web addresses, credentials, and how to restart it."""
    stack: devstack.Stack
    env: dict[str, str]
    services: dict[str, ServiceInfo]
    token: Callable[[str], str]
    local_infra: bool = True

    def client(self, service: str, role: str = "app") -> ServiceClient:
        return ServiceClient(self.stack.base_url(self.services[service]), self.token(role))

    def database_url(self, service: str) -> str:
        return libpq_url(Settings.from_env(service, self.env).database_url)

    @property
    def bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]


class Run:
    def __init__(self, target: Target, size: Size, *, log: Callable[[str], None] = print):
        self.target, self.size, self.log = target, size, log
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.plan = Plan(size, f"chaos{uuid.uuid4().hex[:6]}", today - timedelta(days=DAYS))
        self.retries: Counter = Counter()
        self.notes: Counter = Counter()
        self.redemptions: dict[str, tuple[str, str]] = {}  # redemption id → (member, what the script wanted)
        self._lock = threading.Lock()

    # --- calling the stack through faults -----------------------------------------------------------

    def call(self, client: ServiceClient, method: str, path: str, *, ok: tuple[int, ...], what: str,
             timeout: float = 600.0, **kwargs) -> requests.Response:
        """Retry as a careful caller would through crashes and restarts: connection errors, 5xx, 429, and a
        409 with Retry-After (the same Idempotency-Key still in progress). Anything else is a finding."""
        deadline, pause = time.monotonic() + timeout, 0.2
        while True:
            try:
                response = client.request(method, path, **kwargs)
                if response.status_code in ok:
                    return response
                transient = response.status_code >= 500 or response.status_code == 429 or (
                    response.status_code == 409 and "Retry-After" in response.headers)
                if not transient:
                    raise Unexpected(f"{what}: {response.status_code} {response.text[:300]}")
                reason = str(response.status_code)
            except requests.RequestException as error:
                reason = type(error).__name__
            with self._lock:
                self.retries[what] += 1
            if time.monotonic() > deadline:
                raise Unexpected(f"{what}: still failing after {timeout:.0f}s ({reason})")
            time.sleep(pause)
            pause = min(2.0, pause * 1.5)

    def sql(self, service: str, statement: str, params: tuple | dict = (), *, timeout: float = 300.0) -> list:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.target.database_url(service), connect_timeout=5) as connection:
                    cursor = connection.execute(statement, params)
                    return cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    # --- before the faults --------------------------------------------------------------------------

    def setup(self) -> None:
        """Operator, partner, rewards, members and their two cards, through the APIs."""
        plan, t = self.plan, self.target
        self.call(t.client("transit-ingest", "admin"), "POST", "/v1/operators", ok=(201,), what="operator",
                  json={"operator_id": plan.operator, "name": "Chaos buses", "default_mode": "bus"})
        catalogue = t.client("redemption", "catalogue")
        self.call(catalogue, "POST", "/v1/partners", ok=(201,), what="partner",
                  json={"partner_id": plan.partner, "name": "Chaos café"})
        for reward, cost in ((f"{plan.prefix}-coffee", COST), (f"{plan.prefix}-yacht", DEAR)):
            self.call(catalogue, "POST", "/v1/rewards", ok=(201,), what="reward", json={
                "reward_id": reward, "partner_id": plan.partner, "title": reward, "cost_points": cost,
                "stock": 2 * self.size.redemptions + 10, "per_member_limit": None, "funded_by": "council",
                "settlement_pence": 200})

        def member(n: int) -> None:
            points, links = t.client("points"), t.client("transit-ingest")
            self.call(points, "POST", "/v1/members", ok=(200, 201), what="member", json={"member_id": plan.member(n)})
            for card in (plan.file_card(n), plan.push_card(n)):
                self.call(links, "POST", "/v1/card-links", ok=(200, 201), what="card link", json={
                    "member_id": plan.member(n), "operator_id": plan.operator, "card_ref": card})

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(member, range(self.size.members)))

    # --- the load ---------------------------------------------------------------------------------

    def upload_file(self, folder: Path) -> None:
        """The operator sends its file; a feed the faults left `failed` is sent again, as an operator would."""
        plan = self.plan
        path = plan.littlepay(folder / f"{plan.prefix}_device-transactions.psv")
        operator = self.target.client("transit-ingest", f"operator:{plan.operator}")
        for attempt in range(1, 6):
            feed_id = self.upload(operator, path)
            while True:
                feed = self.call(operator, "GET", f"/v1/operators/{plan.operator}/feeds/{feed_id}", ok=(200,),
                                 what="feed status").json()
                if feed["status"] in ("done", "failed"):
                    break
                time.sleep(0.5)
            self.notes["feed uploads"] = attempt
            if feed["status"] == "done":
                if feed.get("rejected"):
                    raise Unexpected(f"the feed rejected rows: {feed.get('errors', [])[:5]}")
                return
            self.notes["feeds failed"] += 1
        raise Unexpected("the feed failed five times")

    def upload(self, operator: ServiceClient, path: Path, timeout: float = 600.0) -> str:
        """The body streams from the file, so each attempt opens it again."""
        deadline = time.monotonic() + timeout
        while True:
            with path.open("rb") as body:
                try:
                    response = operator.post(f"/v1/operators/{self.plan.operator}/feeds", data=body,
                                             params={"format": "littlepay-v3"}, timeout=300,
                                             headers={"Content-Type": "application/octet-stream"})
                    if response.status_code == 202:
                        return response.json()["feed_id"]
                    if response.status_code < 500:
                        raise Unexpected(f"feed upload: {response.status_code} {response.text[:300]}")
                except requests.RequestException:
                    pass
            with self._lock:
                self.retries["feed upload"] += 1
            if time.monotonic() > deadline:
                raise Unexpected("feed upload: still failing")
            time.sleep(1)

    def push_taps(self) -> None:
        plan = self.plan
        operator = self.target.client("transit-ingest", f"operator:{plan.operator}")
        for batch in plan.push_batches():
            result = self.call(operator, "POST", f"/v1/operators/{plan.operator}/taps", ok=(202,),
                               what="tap push", json={"taps": batch}).json()
            if result["rejected"]:
                raise Unexpected(f"a push rejected taps: {result['errors'][:5]}")

    def redeem(self, r: int) -> None:
        plan, t = self.plan, self.target
        member = plan.member(r)
        app = t.client("redemption")
        self.call(t.client("points", "finance"), "POST", "/v1/adjustments", ok=(200, 201), what="adjustment",
                  json={"member_id": member, "points": COST, "reason": "chaos run"},
                  headers={"Idempotency-Key": f"{plan.prefix}-adj-{r}"})
        wanted = [("coffee", plan.outcome(r))] + ([("yacht", "rejected")] if plan.dear(r) else [])
        for reward, outcome in wanted:
            accepted = self.call(app, "POST", "/v1/redemptions", ok=(202,), what="redemption request",
                                 json={"member_id": member, "reward_id": f"{plan.prefix}-{reward}"},
                                 headers={"Idempotency-Key": f"{plan.prefix}-{reward}-{r}"})
            redemption_id = accepted.json()["redemption_id"]
            with self._lock:
                self.redemptions[redemption_id] = (member, outcome)
            if outcome == "rejected":
                continue
            waiting_until = time.monotonic() + 20 * 60  # past the 15 minutes after which an unanswered one ends
            while (redemption := self.call(app, "GET", f"/v1/redemptions/{redemption_id}", ok=(200,),
                                           what="redemption status", params={"wait": 10}).json()
                   )["status"] == "pending" and time.monotonic() < waiting_until:
                pass
            if redemption["status"] != "issued":
                self.notes[f"redemption {redemption['status']} instead of issued"] += 1
                continue
            if outcome == "redeem":
                # a retry whose first answer was lost in a crash must hear 200 too, not "already used"
                till = t.client("redemption", f"partner:{plan.partner}")
                self.call(till, "POST", f"/v1/pos/vouchers/{redemption['voucher_code']}/redeem", ok=(200,),
                          what="till redeem", headers={"Idempotency-Key": f"till-{r}"})
            elif outcome == "cancel":
                self.call(app, "POST", f"/v1/redemptions/{redemption_id}/cancel", ok=(200,), what="cancel")
            else:  # its validity runs out: the worker's expiry job takes it from there
                self.sql("redemption", "UPDATE redemptions SET expires_at = now() - interval '1 second'"
                         " WHERE id = %s AND status = 'issued'", (redemption_id,))

    def poison(self) -> int:
        """Messages that are not events, on the journeys topic: each must be dead-lettered once per group."""
        producer = KafkaProducer(bootstrap_servers=self.target.bootstrap, acks="all")
        try:
            for n in range(self.size.poison):
                producer.send(TRANSIT_JOURNEYS, key=f"{self.plan.prefix}-poison-{n}".encode(),
                              value=b"\x00{not an event").get(timeout=60)
        finally:
            producer.close()
        return self.size.poison

    def load(self) -> float:
        """All the load at once under the faults; seconds it took."""
        started = time.monotonic()
        self.poison()
        with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(8) as pool:
            jobs = [pool.submit(self.upload_file, Path(folder)), pool.submit(self.push_taps)]
            jobs += [pool.submit(self.redeem, r) for r in range(self.size.redemptions)]
            for job in jobs:
                job.result()
        return time.monotonic() - started

    # --- afterwards -------------------------------------------------------------------------------

    def observe(self) -> dict:
        """Everything the checks compare, read from the services' databases, the broker and the CLI."""
        like = f"{self.plan.prefix}-%"
        credited = {m: (n, p) for m, n, p in self.sql("points", """
            SELECT member_id, count(*), sum(points) FROM earnings
             WHERE source_type = 'journey' AND status = 'credited' AND member_id LIKE %s GROUP BY member_id""",
                                                      (like,))}
        net = dict(self.sql("points", """
            SELECT member_id, sum(CASE code WHEN 'earn' THEN amount WHEN 'reverse' THEN -amount END)
              FROM transfers WHERE source_type = 'journey' AND member_id LIKE %s GROUP BY member_id""", (like,)))
        balances = {m: (a, h) for m, a, h in self.sql("points", """
            SELECT member_id, credits_posted - debits_posted - debits_pending, debits_pending FROM accounts
             WHERE kind = 'member_available' AND member_id LIKE %s""", (like,))}
        journeys = dict(self.sql("transit-ingest", """
            SELECT kind || '/' || status, count(*) FROM journeys WHERE operator_id = %s GROUP BY 1""",
                                 (self.plan.operator,)))
        states = {rid: (status, reason) for rid, status, reason in self.sql(
            "redemption", "SELECT id::text, status, reason FROM redemptions WHERE member_id LIKE %s", (like,))}
        holds = {rid: Counter(dict(codes)) for rid, codes in self._holds(list(self.redemptions))}
        earned_events = dict(self.sql("points", """
            SELECT member_id, count(*) FROM transfers WHERE code = 'earn' AND member_id LIKE %s GROUP BY 1""",
                                      (like,)))
        inbox = dict(self.sql("notifications", """
            SELECT member_id, count(*) FROM inbox WHERE type = 'points.earned' AND member_id LIKE %s GROUP BY 1""",
                              (like,)))
        doubled_inbox = self.sql("notifications", """
            SELECT count(*) FROM (SELECT event_id FROM inbox WHERE member_id LIKE %s
                                   GROUP BY member_id, event_id HAVING count(*) > 1) d""", (like,))[0][0]
        return {"credited": credited, "net": net, "balances": balances, "journeys": journeys, "states": states,
                "holds": holds, "earned_events": earned_events, "inbox": inbox, "doubled_inbox": doubled_inbox}

    def _holds(self, redemption_ids: list[str]) -> list:
        return self.sql("points", """
            SELECT source_id, json_object_agg(code, n) FROM (
              SELECT source_id, code, count(*) n FROM transfers
               WHERE source_type = 'redemption' AND source_id = ANY(%s) GROUP BY source_id, code) c
             GROUP BY source_id""", (redemption_ids,))

    def compare(self, seen: dict) -> dict:
        """What the input says against what the stack holds."""
        plan = self.plan
        expected = plan.expected_journeys()
        lost = doubled = points_off = wrong_balance = 0
        for member in plan.members():
            count, points = seen["credited"].get(member, (0, 0))
            lost += max(0, expected[member] - count)
            doubled += max(0, count - expected[member])
            points_off += (points != POINTS_PER_JOURNEY * expected[member]) + (
                (seen["net"].get(member) or 0) != POINTS_PER_JOURNEY * expected[member])
        available = plan.expected_available()
        final = {"redeem": "redeemed", "cancel": "cancelled", "expire": "expired", "rejected": "rejected"}
        wrong_state, wrong_holds, unanswered = Counter(), 0, 0
        for rid, (member, outcome) in self.redemptions.items():
            state, reason = seen["states"].get(rid, (None, None))
            if state == "cancelled" and reason == "no_answer_from_ledger" and outcome != "rejected":
                # the saga's safety net: pending past its timeout (the ledger unreachable that long), the
                # redemption ends cancelled and any hold the ledger made later is released: the member keeps
                # their points. A valid end, counted apart.
                unanswered += 1
                available[member] += COST if outcome == "redeem" else 0
            elif state != final[outcome]:
                wrong_state[f"{final[outcome]}→{state}"] += 1
            codes = seen["holds"].get(rid, Counter())
            held, captured, released = codes["hold"], codes["capture"], codes["release"]
            right = {"redeemed": (1, 1, 0), "cancelled": (1, 0, 1), "expired": (1, 0, 1),
                     "rejected": (0, 0, 0)}.get(state)
            never_held = reason == "no_answer_from_ledger" and (held, captured, released) == (0, 0, 0)
            wrong_holds += (held, captured, released) != right and not never_held
        for member in plan.members():
            if tuple(seen["balances"].get(member, (0, 0))) != (available[member], 0):
                wrong_balance += 1
        inbox_missing = sum(max(0, n - seen["inbox"].get(m, 0)) for m, n in seen["earned_events"].items())
        inbox_extra = sum(max(0, n - seen["earned_events"].get(m, 0)) for m, n in seen["inbox"].items())
        completed = seen["journeys"].get("paired/completed", 0)
        return {
            "expected_journeys": sum(expected.values()), "credited_journeys": sum(
                n for m, (n, _) in seen["credited"].items()), "lost": lost, "doubled": doubled,
            "members_with_wrong_points": points_off, "members_with_wrong_balance": wrong_balance,
            "transit_journeys": completed, "transit_other_journeys": sum(seen["journeys"].values()) - completed,
            "redemptions": len(self.redemptions), "redemptions_in_wrong_state": dict(wrong_state),
            "redemptions_cancelled_unanswered": unanswered,
            "redemptions_with_wrong_holds": wrong_holds, "inbox_missing": inbox_missing,
            "inbox_extra": inbox_extra, "inbox_doubled": seen["doubled_inbox"],
        }

    @staticmethod
    def converged(found: dict) -> bool:
        return (found["lost"] == found["doubled"] == found["members_with_wrong_points"]
                == found["members_with_wrong_balance"] == found["transit_other_journeys"]
                == found["redemptions_with_wrong_holds"] == found["inbox_missing"] == found["inbox_extra"]
                == found["inbox_doubled"] == 0 and not found["redemptions_in_wrong_state"]
                and found["transit_journeys"] == found["expected_journeys"])

    def converge(self) -> tuple[dict, float]:
        """Poll until everything expected is there or the deadline passes; (the last comparison, seconds)."""
        started = time.monotonic()
        deadline = started + self.size.deadline_s
        while True:
            found = self.compare(self.observe())
            if self.converged(found) or time.monotonic() > deadline:
                return found, time.monotonic() - started
            time.sleep(2)

    def dead_letters(self) -> dict:
        """Dead-lettered messages of this run: the poison (once per group that reads the journeys topic)
        and anything else, which would be a finding."""
        groups = [name for name, info in self.target.services.items()
                  if TRANSIT_JOURNEYS in importlib.import_module(f"{info.package}.bootstrap").TOPICS]
        admin = KafkaAdminClient(bootstrap_servers=self.target.bootstrap)
        try:
            topics = [t for t in admin.list_topics() if t.endswith(".dlq")]
        finally:
            admin.close()
        poison, other = Counter(), Counter()
        consumer = KafkaConsumer(bootstrap_servers=self.target.bootstrap, enable_auto_commit=False)
        try:
            for topic in topics:
                partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
                consumer.assign(partitions)
                consumer.seek_to_beginning(*partitions)
                ends = consumer.end_offsets(partitions)
                while any(consumer.position(p) < ends[p] for p in partitions):
                    for records in consumer.poll(timeout_ms=500).values():
                        for record in records:
                            key = (record.key or b"").decode(errors="replace")
                            if key.startswith(f"{self.plan.prefix}-poison-"):
                                poison[topic] += 1
                            elif key.startswith(f"{self.plan.prefix}-"):
                                other[topic] += 1
        finally:
            consumer.close()
        return {"poison_sent": self.size.poison, "poison_groups": len(groups),
                "poison_dead_lettered": sum(poison.values()), "other_dead_lettered": dict(other)}

    def verify_ledger(self) -> dict:
        done = subprocess.run([str(Path(sys.executable).parent / "rewards"), "ledger", "verify"],
                              env={**os.environ, **self.target.env}, capture_output=True, text=True, timeout=600)
        return {"ok": done.returncode == 0, "output": done.stdout.strip().splitlines()[-3:]}

    def run(self) -> dict:
        self.log(f"chaos {self.plan.prefix}: {self.size}")
        started = time.monotonic()
        self.setup()
        self.log(f"  set up {self.size.members} members in {time.monotonic() - started:.0f}s; load and faults")
        estimate = max(30.0, self.size.taps / 400)
        chaos = Chaos(self.target.stack, self.target.env, self.target.services,
                      Faults(self.size.process_kills, self.size.broker_restarts, self.size.database_restarts),
                      seconds=estimate, seed=self.size.seed, infra=self.target.local_infra, log=self.log)
        with chaos:
            load_s = self.load()
        faults_over = time.monotonic()
        self.log(f"  load done in {load_s:.0f}s; faults {chaos.counts()}; converging")
        found, converge_s = self.converge()
        figures = {
            "size": dataclasses.asdict(self.size), "prefix": self.plan.prefix,
            "faults": chaos.counts(), "fault_log": [dataclasses.asdict(f) for f in chaos.injected],
            "fault_errors": chaos.errors,
            "events": {"file_taps": self.size.taps // 2 * 2, "pushed_taps": self.size.push_taps // 2 * 2,
                       "redemptions": len(self.redemptions), "members": self.size.members},
            **found, "converged": self.converged(found),
            "load_s": round(load_s, 1), "converged_after_s": round(converge_s, 1),
            "faults_over_to_converged_s": round(time.monotonic() - faults_over, 1),
            "retried_calls": dict(self.retries), "notes": dict(self.notes),
            "dead_letters": self.dead_letters(), "ledger_verify": self.verify_ledger(),
        }
        return figures


def survived(figures: dict) -> list[str]:
    """What went wrong, in words: empty when the stack came through whole."""
    problems = []
    if not figures["converged"]:
        problems.append("did not converge: " + json.dumps({k: figures[k] for k in (
            "expected_journeys", "credited_journeys", "lost", "doubled", "members_with_wrong_points",
            "members_with_wrong_balance", "transit_journeys", "transit_other_journeys",
            "redemptions_in_wrong_state", "redemptions_with_wrong_holds", "inbox_missing", "inbox_extra",
            "inbox_doubled")}))
    letters = figures["dead_letters"]
    if letters["other_dead_lettered"]:
        problems.append(f"dead-lettered by accident: {letters['other_dead_lettered']}")
    if letters["poison_dead_lettered"] != letters["poison_sent"] * letters["poison_groups"]:
        problems.append(f"poison dead-lettered {letters['poison_dead_lettered']} times, expected "
                        f"{letters['poison_sent']} × {letters['poison_groups']} groups")
    if not figures["ledger_verify"]["ok"]:
        problems.append(f"ledger verify: {figures['ledger_verify']['output']}")
    if figures["fault_errors"]:
        problems.append(f"faults that failed: {figures['fault_errors']}")
    return problems


def table(figures: dict) -> str:
    letters = figures["dead_letters"]
    rows = [("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(figures["faults"].items())) or "none"),
            ("taps (file + pushed)", f"{figures['events']['file_taps']:,} + {figures['events']['pushed_taps']:,}"),
            ("members / redemptions", f"{figures['events']['members']:,} / {figures['events']['redemptions']:,}"),
            ("journeys expected / credited", f"{figures['expected_journeys']:,} / {figures['credited_journeys']:,}"),
            ("lost", figures["lost"]), ("doubled", figures["doubled"]),
            ("members with wrong points / balance",
             f"{figures['members_with_wrong_points']} / {figures['members_with_wrong_balance']}"),
            ("redemptions in a wrong state", sum(figures["redemptions_in_wrong_state"].values())),
            ("  cancelled unanswered after 15 min", figures["redemptions_cancelled_unanswered"]),
            ("redemptions whose holds disagree", figures["redemptions_with_wrong_holds"]),
            ("inbox items missing / extra / doubled",
             f"{figures['inbox_missing']} / {figures['inbox_extra']} / {figures['inbox_doubled']}"),
            ("poison sent / dead-lettered (groups)",
             f"{letters['poison_sent']} / {letters['poison_dead_lettered']} ({letters['poison_groups']})"),
            ("other dead letters", sum(letters["other_dead_lettered"].values())),
            ("ledger verify", "clean" if figures["ledger_verify"]["ok"] else "BREACH"),
            ("load under faults (s)", figures["load_s"]),
            ("time to converge after the faults (s)", figures["faults_over_to_converged_s"]),
            ("calls retried by the clients", sum(figures["retried_calls"].values())),
            ("converged", "yes" if figures["converged"] else "NO")]
    width = max(len(name) for name, _ in rows)
    return "\n".join([f"{'chaos':<{width}}  result", "-" * (width + 24)]
                     + [f"{name:<{width}}  {value}" for name, value in rows])


def write(figures: dict, name: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    entry = {"benchmark": name, "date": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
             **figures}
    (RESULTS / f"{name}.json").write_text(json.dumps(entry, indent=2, default=str) + "\n")
    markdown = (f"# {name}: {entry['date']}, {entry['cpus']} CPUs\n\n```\n{table(figures)}\n```\n\n"
                "Faults, in order (seconds after the load began, how long until everything was back):\n\n"
                + "".join(f"- {f['at_s']:>7} s  {f['kind']:<12} {f['target']:<24} {f['recovered_after_s']} s\n"
                          for f in figures["fault_log"]))
    path = RESULTS / f"{name}.md"
    path.write_text(markdown)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in dataclasses.fields(Size):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(getattr(Size(), f.name)),
                            help=f"(CHAOS_{f.name.upper()}, default {getattr(Size(), f.name)})")
    parser.add_argument("--short", action="store_true", help="the size `make test` runs")
    options = parser.parse_args()
    size = Size.from_env(Size.short() if options.short else Size())
    size = dataclasses.replace(size, **{f.name: getattr(options, f.name) for f in dataclasses.fields(Size)
                                        if getattr(options, f.name) is not None})
    slot = int(os.environ.get("CHAOS_SLOT", "9"))
    stack = dataclasses.replace(devstack.Stack.for_tests(slot=slot), web_concurrency=2)
    devstack.infra_up(stack)
    services = discover()
    try:
        from tests.benchmarks.pipeline import prepare_bench_stack

        env = prepare_bench_stack(stack) | SERVICE_ENV
        devstack.services_up(stack, env, services)
        key = Path(env["REWARDS_SIGNING_KEY_FILE"]).read_text()
        target = Target(stack, env, services, lambda role: auth.issue(key, role)[0])
        try:
            figures = Run(target, size).run()
        finally:
            devstack.services_down(stack, services)
    finally:
        devstack.infra_down(stack, remove_data=True)
    print("\n" + table(figures) + "\n")
    print(f"written: {write(figures, 'chaos')}")
    problems = survived(figures)
    for problem in problems:
        print(f"FOUND: {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
