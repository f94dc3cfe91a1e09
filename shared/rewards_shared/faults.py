"""Named fault points, so tests can kill a real process at an exact moment.

`REWARDS_FAULTS="consumer.after_db_commit=kill@3"` makes the third pass through that point
SIGKILL the process; `consumer.after_db_commit[points.earned]=kill@1` counts only passes for that
detail (an event type). Unset, as in production, every point is a no-op.
"""
from __future__ import annotations

import os
import signal
import threading
from collections import Counter

_counts: Counter[str] = Counter()
_lock = threading.Lock()


def _plan() -> dict[str, tuple[str, int]]:
    plan = {}
    for item in filter(None, os.environ.get("REWARDS_FAULTS", "").split(",")):
        name, _, action = item.partition("=")
        kind, _, nth = action.partition("@")
        plan[name.strip()] = (kind.strip(), int(nth or 1))
    return plan


_PLAN = _plan()


def point(name: str, detail: str | None = None) -> None:
    if not _PLAN:
        return
    for key in (name, f"{name}[{detail}]"):
        if key not in _PLAN:
            continue
        kind, nth = _PLAN[key]
        with _lock:
            _counts[key] += 1
            reached = _counts[key] == nth
        if reached and kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
