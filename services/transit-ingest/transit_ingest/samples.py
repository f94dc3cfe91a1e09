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


# How a bad row is made: (the field its error names, the column spoilt, the value put there); no column: the
# row loses its last fields. "\udce9" is written as the byte 0xE9 (a cp1252 é), which is not UTF-8.
BAD_ROWS = (("type", 6, "sideways"), ("transaction_timestamp_utc", 8, "yesterday"),
            ("participant_id", 0, "someone-else"), ("latitude", 15, "95.0"), ("littlepay_transaction_id", 3, ""),
            ("_row", 10, "Caf\udce9 Nero"), ("_row", None, None))


def write_littlepay_with_bad_rows(path: Path, rows: int, *, every: int = 10, **options) -> dict[int, str]:
    """A Littlepay v3 file of `rows` taps in which every `every`-th row is bad in one of several ways (a
    wrong value, a missing one, too few fields, bytes that are not UTF-8); {line: field} of the bad rows."""
    bad: dict[int, str] = {}
    with path.open("w", encoding="utf-8", errors="surrogateescape") as out:
        for index, line in enumerate(littlepay_lines(rows, **options)):
            if index and index % every == 0:
                field, column, value = BAD_ROWS[(index // every) % len(BAD_ROWS)]
                fields = line.rstrip("\n").split("|")
                if column is None:
                    del fields[12:]
                else:
                    fields[column] = value
                line = "|".join(fields) + "\n"
                bad[index + 1] = field
            out.write(line)
    return bad
