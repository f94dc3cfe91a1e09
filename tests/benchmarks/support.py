"""Shared by the benchmarks: percentiles and a results file per benchmark (never a pass/fail on time)."""
from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"count": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2)}


def record(name: str, figures: dict) -> Path:
    """Print the figures and write them, with the machine and date, to results/<name>.json."""
    RESULTS.mkdir(exist_ok=True)
    entry = {"benchmark": name, "date": datetime.now(UTC).isoformat(timespec="seconds"),
             "cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
             **figures}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(entry, indent=2) + "\n")
    print(f"\n{name}: " + json.dumps(figures, indent=2))
    return path
