"""Loading a 1,000,000-row Littlepay file: taps per second into the database, and peak memory.

Measures and reports (tests/benchmarks/results/transit_feed_load.json); asserts only correctness.
`TRANSIT_BENCH_ROWS` changes the size (default 1,000,000).
"""
from __future__ import annotations

import os
import resource
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.benchmarks.support import record
from transit_ingest import feeds, operators
from transit_ingest.cards import CardHasher
from transit_ingest.models import Journey, Tap
from transit_ingest.samples import write_littlepay

pytestmark = pytest.mark.benchmark
ROWS = int(os.environ.get("TRANSIT_BENCH_ROWS", "1000000"))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler:
    """The process's resident memory, sampled every 100 ms while the block runs."""

    def __init__(self):
        self.samples: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(0.1):
            self.samples.append(rss_mib())

    def __enter__(self):
        self.samples.append(rss_mib())
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def test_load_a_million_row_littlepay_file(databases, settings_for, tmp_path):
    database = databases("transit-ingest")
    hasher = CardHasher(settings_for("transit-ingest").get_secret("CARD_HMAC_KEY"))
    operator = f"bench-{uuid.uuid4().hex[:6]}"
    with database.transaction() as session:
        operators.register(session, id=operator, name="Benchmark buses")

    started = time.perf_counter()
    path = write_littlepay(tmp_path / "202611240600_device-transactions.psv", ROWS, participant=operator,
                           prefix=operator)
    generated = time.perf_counter() - started
    rss_before = rss_mib()

    loading_done = {}
    with RssSampler() as upload_rss:
        started = time.perf_counter()
        with database.transaction() as session, path.open("rb") as body:
            feed = feeds.receive(session, operator, "littlepay-v3", body, filename=path.name)
        uploaded = time.perf_counter() - started

    def note(progress: feeds.Progress):
        if progress.stage == "pairing" and "at" not in loading_done:
            loading_done["at"] = time.perf_counter()

    with RssSampler() as process_rss:
        started = time.perf_counter()
        assert feeds.claim(database, feed.id) == feed.id
        status = feeds.process(database, feed.id, hasher, on_progress=note)
        finished = time.perf_counter()
    loading = loading_done["at"] - started
    pairing = finished - loading_done["at"]

    with database.transaction() as session:
        done = feeds.get(session, operator, feed.id)
        taps = session.execute(sa.select(sa.func.count()).select_from(Tap).where(Tap.operator_id == operator)).scalar()
        journeys = session.execute(sa.select(sa.func.count()).select_from(Journey)
                                   .where(Journey.operator_id == operator)).scalar()
    assert status == "done" and done.rows == ROWS and done.accepted == ROWS and taps == ROWS
    assert journeys > 0.9 * ROWS / 2

    record("transit_feed_load", {
        "rows": ROWS, "file_mib": round(path.stat().st_size / 2**20, 1), "generate_s": round(generated, 1),
        "upload_s": round(uploaded, 1), "upload_mib_per_s": round(path.stat().st_size / 2**20 / uploaded, 1),
        "load_s": round(loading, 1), "load_taps_per_s": round(ROWS / loading),
        "pairing_s": round(pairing, 1), "journeys": journeys, "pairing_taps_per_s": round(ROWS / pairing),
        "end_to_end_taps_per_s": round(ROWS / (uploaded + loading + pairing)),
        "rss_before_mib": round(rss_before, 1), "rss_peak_upload_mib": round(max(upload_rss.samples), 1),
        "rss_peak_processing_mib": round(max(process_rss.samples), 1),
        "rss_after_mib": round(rss_mib(), 1),
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    })
