"""Searching everything the stack keeps for traces of a person: every table of every service database
(and its large objects), the messages on every Kafka topic since a moment, and every log file."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import sqlalchemy as sa
from kafka import TopicPartition

from rewards_shared import kafka
from rewards_shared.db import Database


def _like(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def in_databases(databases: Callable[[str], Database], services: Iterable[str], needles: Iterable[str]) -> list[str]:
    """`service.table: needle` for every row (as text, bytea as hex) and large object holding a needle."""
    needles = list(needles)
    found = []
    for service in services:
        with databases(service).reading() as connection:
            tables = connection.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).scalars().all()
            for table in tables:
                for needle in needles:
                    hit = connection.execute(sa.text(
                        f'SELECT 1 FROM "{table}" t WHERE t::text ILIKE :pattern ESCAPE \'\\\' LIMIT 1'),
                        {"pattern": _like(needle)}).first()
                    if hit:
                        found.append(f"{service}.{table}: {needle}")
            for needle in needles:
                if connection.execute(sa.text(
                        "SELECT 1 FROM pg_largeobject WHERE position(convert_to(:needle, 'UTF8') IN data) > 0 LIMIT 1"),
                        {"needle": needle}).first():
                    found.append(f"{service}.pg_largeobject: {needle}")
    return found


def on_topics(bootstrap: str, needles: Iterable[str], *, since_ms: int,
              allowed: Callable[[dict], bool] = lambda event: False) -> list[str]:
    """`topic@offset: needle` for every message published since `since_ms` whose key, value or headers hold a
    needle, except those `allowed` accepts (given the decoded event)."""
    needles = [needle.encode() for needle in needles]
    admin = kafka.admin(bootstrap, "trace-search")
    topics = [t for t in admin.list_topics() if not t.startswith("__")]
    admin.close()
    consumer = kafka.consumer(bootstrap, None, "trace-search", enable_auto_commit=False)
    found = []
    try:
        partitions = [TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic) or ()]
        starts = consumer.offsets_for_times({tp: since_ms for tp in partitions})
        ends = consumer.end_offsets(partitions)
        wanted = {tp: (found_at.offset, ends[tp]) for tp, found_at in starts.items()
                  if found_at is not None and found_at.offset < ends[tp]}
        if not wanted:
            return []
        consumer.assign(list(wanted))
        for tp, (start, _) in wanted.items():
            consumer.seek(tp, start)
        while any(consumer.position(tp) < end for tp, (_, end) in wanted.items()):
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset >= wanted[tp][1]:
                        continue
                    raw = b" ".join([record.key or b"", record.value or b"",
                                     *(value for _, value in record.headers or [])])
                    hits = [needle.decode() for needle in needles if needle in raw]
                    if hits and not allowed(_event(record.value)):
                        found += [f"{record.topic}@{record.offset}: {hit}" for hit in hits]
    finally:
        consumer.close()
    return found


def _event(value: bytes | None) -> dict:
    try:
        return json.loads(value or b"{}")
    except ValueError:
        return {}


def in_logs(paths: Iterable[Path], needles: Iterable[str]) -> list[str]:
    needles = [needle.encode() for needle in needles]
    found = []
    for path in paths:
        content = path.read_bytes()
        found += [f"{path.name}: {needle.decode()}" for needle in needles if needle in content]
    return found


def log_files(*folders: Path) -> list[Path]:
    return sorted(path for folder in folders if folder.exists() for path in folder.glob("*.log*") if path.is_file())
