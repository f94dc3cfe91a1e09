"""Stops from an operator's GTFS stops.txt, so journeys whose taps carry no position still get a distance."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared.errors import Invalid

from . import operators
from .formats import Checker, RowError
from .models import Stop

REQUIRED = ("stop_id", "stop_lat", "stop_lon")
BATCH = 5_000


@dataclass
class StopsLoaded:
    stops: int = 0
    skipped: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)


def load(session: Session, operator_id: str, body: BinaryIO) -> StopsLoaded:
    """Upsert every stop with a position, in the caller's transaction; bad rows come back by line and field."""
    operators.get(session, operator_id)
    text = io.TextIOWrapper(body, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames or []
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise Invalid(f"Not a GTFS stops.txt: the header lacks {', '.join(missing)}.", field="body")
        result, batch = StopsLoaded(), []
        for row in reader:
            stop = _stop(row, reader.line_num, result)
            if stop is not None:
                batch.append({"operator_id": operator_id, **stop})
            if len(batch) >= BATCH:
                _upsert(session, batch)
                result.stops, batch = result.stops + len(batch), []
        _upsert(session, batch)
        result.stops += len(batch)
    except (UnicodeDecodeError, csv.Error) as error:
        raise Invalid(f"Line {reader.line_num}: not a CSV text file ({error}).", field="body") from None
    finally:
        text.detach()
    return result


def _stop(row: dict, line: int, result: StopsLoaded) -> dict | None:
    if None in row or any(value is None for value in row.values()):
        result.rejected += 1
        result.errors.append(RowError(line, "_row", "Has a different number of fields from the header."))
        return None
    check = Checker(line)
    stop_id = check.text("stop_id", row["stop_id"], required=True)
    if not row["stop_lat"] and not row["stop_lon"] and row.get("location_type") in ("3", "4"):
        result.skipped += 1
        return None
    latitude = check.number("stop_lat", row["stop_lat"], -90, 90, required=True)
    longitude = check.number("stop_lon", row["stop_lon"], -180, 180, required=True)
    if check.errors:
        result.rejected += 1
        result.errors.extend(check.errors)
        return None
    return {"stop_id": stop_id, "name": row.get("stop_name") or None, "latitude": latitude, "longitude": longitude}


def _upsert(session: Session, batch: list[dict]) -> None:
    if not batch:
        return
    statement = insert(Stop)
    session.execute(statement.on_conflict_do_update(
        index_elements=[Stop.operator_id, Stop.stop_id],
        set_={"name": statement.excluded.name, "latitude": statement.excluded.latitude,
              "longitude": statement.excluded.longitude, "updated_at": sa.func.now()}),
        list({row["stop_id"]: row for row in batch}.values()))
