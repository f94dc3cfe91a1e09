"""Synthetic operator files in the real formats, for demos, smoke tests and load tests."""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .formats import LITTLEPAY_V3

LEEDS = (53.7997, -1.5492)


def littlepay_lines(rows: int, *, participant: str, cards: int | None = None, start: datetime | None = None,
                    prefix: str = "lp", seed: int = 7) -> Iterator[str]:
    """A Littlepay v3 header and `rows` taps: per card a tap-on and a tap-off 20 minutes later, journeys
    two hours apart, about one tap in fifty denied, in time order across the file."""
    random_ = random.Random(seed)
    cards = cards or max(1, rows // 10)
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    yield "|".join(LITTLEPAY_V3) + "\n"
    for index in range(rows):
        card, tap_off = (index // 2) % cards, index % 2 == 1
        journey = index // (2 * cards)
        at = start + timedelta(hours=2 * journey, seconds=card % 3600, minutes=20 if tap_off else 0)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        lat = LEEDS[0] + random_.uniform(-0.05, 0.05)
        lon = LEEDS[1] + random_.uniform(-0.08, 0.08)
        outcome = "deny" if random_.random() < 0.02 else "allow"
        yield (f"{participant}|c-{card}|d-{index}|{prefix}-{index}|val-{card % 97}|LP|{'off' if tap_off else 'on'}|"
               f"{outcome}|{stamp}|S{index % 500}|Stop {index % 500}|Z1|{card % 40}|bus|inbound|{lat:.5f}|"
               f"{lon:.5f}|BUS-{card % 300}|||{stamp}||{stamp}|fs-{card:08d}|TRANSIT\n")


def write_littlepay(path: Path, rows: int, **options) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.writelines(littlepay_lines(rows, **options))
    return path
