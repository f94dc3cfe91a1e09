"""A 1,000,000-row Littlepay file of which every tenth row is bad, loaded by the real transit-ingest worker
process: rows per second, and the worker's resident memory through the load (peak, and against a run a tenth
the size, to show it stays flat). Asserts only correctness: every bad row reported by line, every good one
stored once.

Results go to tests/benchmarks/results/malformed_feed_load.json; `MALFORMED_BENCH_ROWS` changes the size.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.benchmarks.support import record
from tests.support.polling import wait_for
from transit_ingest import feeds, operators
from transit_ingest.models import Feed, FeedError, Tap
from transit_ingest.samples import write_littlepay_with_bad_rows

pytestmark = pytest.mark.benchmark
ROWS = int(os.environ.get("MALFORMED_BENCH_ROWS", "1000000"))


def memory_mib(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and at its highest so far (VmHWM)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


def load_with_the_worker(database, stack_env, tmp_path: Path, rows: int) -> dict:
    operator = f"bench-{uuid.uuid4().hex[:6]}"
    with database.transaction() as session:
        operators.register(session, id=operator, name="Benchmark buses")
    path = tmp_path / f"{operator}.psv"
    bad = write_littlepay_with_bad_rows(path, rows, participant=operator, prefix=operator)

    ready = tmp_path / f"{operator}.ready"
    worker = subprocess.Popen([sys.executable, "-m", "transit_ingest.worker"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, **stack_env, "WORKER_READY_FILE": str(ready), "LOG_LEVEL": "WARNING"})
    try:
        wait_for(ready.exists, timeout=120, what="the transit-ingest worker")
        at_rest = memory_mib(worker.pid)["VmRSS"]
        with database.transaction() as session, path.open("rb") as body:
            feed_id = feeds.receive(session, operator, "littlepay-v3", body, filename=path.name).id
        samples: list[tuple[float, float]] = []  # (share of the file read, RSS)
        loaded_at = None
        started = time.perf_counter()
        while True:
            with database.transaction() as session:
                feed = session.get(Feed, feed_id)
                status, share = feed.status, feed.bytes_read / feed.size_bytes
            samples.append((share, memory_mib(worker.pid)["VmRSS"]))
            if loaded_at is None and share >= 1:
                loaded_at = time.perf_counter()
            if status in ("done", "failed"):
                break
            assert time.perf_counter() - started < 1800, "the feed did not finish in 30 minutes"
            time.sleep(0.1)
        peak = memory_mib(worker.pid)["VmHWM"]
    finally:
        worker.terminate()
        worker.wait(timeout=60)

    with database.transaction() as session:
        feed = session.get(Feed, feed_id)
        taps = session.execute(sa.select(sa.func.count()).select_from(Tap).where(Tap.operator_id == operator)).scalar()
        errors = dict(session.execute(sa.select(FeedError.line, FeedError.field)
                                      .where(FeedError.feed_id == feed_id)).all())
        elapsed = (feed.finished_at - feed.started_at).total_seconds()
        assert (feed.status, feed.rows, feed.rejected, feed.accepted) == ("done", rows, len(bad), rows - len(bad))
    assert taps == rows - len(bad) and errors == bad
    loading = (loaded_at or time.perf_counter()) - started
    rss_by_tenth = {f"{round(share, 1):.1f}": round(rss, 1) for share, rss in samples}
    return {"rows": rows, "bad_rows": len(bad), "file_mib": round(path.stat().st_size / 2**20, 1),
            "load_s": round(loading, 1), "load_rows_per_s": round(rows / loading),
            "total_s": round(elapsed, 1), "end_to_end_rows_per_s": round(rows / elapsed),
            "worker_rss_at_rest_mib": round(at_rest, 1), "worker_rss_peak_mib": round(peak, 1),
            "worker_rss_by_share_read_mib": rss_by_tenth}


def test_a_million_rows_every_tenth_bad_through_the_worker(databases, stack_env, tmp_path):
    database = databases("transit-ingest")
    small = load_with_the_worker(database, stack_env, tmp_path, max(1000, ROWS // 10))
    large = load_with_the_worker(database, stack_env, tmp_path, ROWS)
    record("malformed_feed_load", {
        "large": large, "small": small,
        "peak_rss_growth_mib": round(large["worker_rss_peak_mib"] - small["worker_rss_peak_mib"], 1)})
