"""Operator files: received as a stream into a PostgreSQL large object, processed row by row later.

Nothing holds a whole file in memory. The upload streams the request body into a large object in
1 MiB pieces; the processor reads it back in pieces, parses one row at a time, and stores chunks of
rows, each chunk in one transaction with the feed's progress, so a crash resumes where it stopped and
no row is half-applied. Then the cards the file touched are paired, and the feed is `done`.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared import jobs, metrics, tracing
from rewards_shared.db import Database, libpq_url
from rewards_shared.errors import DomainError, Invalid, NotFound
from rewards_shared.runtime import Clock, utc_now

from . import journeys, operators
from .cards import CardHasher
from .formats import FORMATS, FormatError, Ignored, RowError, TapRecord, lines_of, open_parser, rows
from .models import Feed, FeedError
from .store import store_taps

log = logging.getLogger(__name__)

PIECE = 1 << 20
CHUNK_ROWS = 20_000
PAIRING_BATCH = 2_000
STALE_AFTER = timedelta(minutes=2)
MAX_ATTEMPTS = 3
ERRORS_SHOWN = 100


class CutShort(DomainError):
    """The upload ended before the length it announced: the connection dropped."""


def receive(session: Session, operator_id: str, fmt: str, body: BinaryIO, *, filename: str | None = None,
            created_by: str | None = None, claimed: bool = False, expected_bytes: int | None = None) -> Feed:
    """Stream `body` into a new large object and queue the feed (or keep it, `claimed`, to process here).
    A body that ends before `expected_bytes` raises CutShort, and the caller's rollback drops what came."""
    if fmt not in FORMATS:
        raise Invalid(f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}.", field="format")
    operators.active(session, operator_id)
    connection = session.connection().connection.driver_connection
    oid = connection.execute("SELECT lo_create(0)").fetchone()[0]
    digest, size = hashlib.sha256(), 0
    while piece := body.read(PIECE):
        connection.execute("SELECT lo_put(%s, %s, %s)", (oid, size, piece))
        digest.update(piece)
        size += len(piece)
    if expected_bytes is not None and size != expected_bytes:
        raise CutShort(f"The upload ended after {size} of its {expected_bytes} bytes: nothing was stored. "
                       "Send the file again.", field="body")
    feed = Feed(id=uuid.uuid4(), operator_id=operator_id, format=fmt, filename=filename, content_oid=oid,
                size_bytes=size, sha256=digest.hexdigest(), created_by=created_by)
    if claimed:
        feed.status, feed.attempts, feed.started_at, feed.heartbeat_at = "processing", 1, sa.func.now(), sa.func.now()
    session.add(feed)
    session.flush()
    session.refresh(feed)
    return feed


def get(session: Session, operator_id: str, feed_id: uuid.UUID) -> Feed:
    feed = session.get(Feed, feed_id)
    if feed is None or feed.operator_id != operator_id:
        raise NotFound("No such feed for this operator.")
    return feed


def listing(session: Session, operator_id: str, *, limit: int,
            after: tuple[datetime, uuid.UUID] | None = None) -> list[Feed]:
    """The operator's feeds, newest first, after the (created_at, id) position."""
    query = sa.select(Feed).where(Feed.operator_id == operator_id) \
        .order_by(Feed.created_at.desc(), Feed.id.desc()).limit(limit)
    if after:
        query = query.where(sa.tuple_(Feed.created_at, Feed.id) < after)
    return list(session.execute(query).scalars())


def first_errors(session: Session, feed_id: uuid.UUID, limit: int = ERRORS_SHOWN) -> list[FeedError]:
    return list(session.execute(sa.select(FeedError).where(FeedError.feed_id == feed_id)
                                .order_by(FeedError.seq).limit(limit)).scalars())


def rejection_report(database: Database, feed_id: uuid.UUID) -> Iterator[str]:
    """The feed's rejected rows as CSV (line, field, message), streamed from the database."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("line", "field", "message"))
    with database.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=5000).execute(
            sa.select(FeedError.line, FeedError.field, FeedError.message)
            .where(FeedError.feed_id == feed_id).order_by(FeedError.seq))
        for partition in result.partitions():
            writer.writerows(partition)
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if out.getvalue():
        yield out.getvalue()


def claim(database: Database, feed_id: uuid.UUID | None = None) -> uuid.UUID | None:
    """Take a queued feed (or one whose processor stopped beating) for processing; its id, or None."""
    stale = sa.func.now() - STALE_AFTER
    query = sa.select(Feed).where(sa.or_(Feed.status == "queued",
                                         sa.and_(Feed.status == "processing", Feed.heartbeat_at < stale)))
    if feed_id is not None:
        query = query.where(Feed.id == feed_id)
    query = query.order_by(Feed.created_at).limit(1).with_for_update(skip_locked=True)
    while True:
        with database.transaction() as session:
            feed = session.execute(query).scalar_one_or_none()
            if feed is None:
                return None
            if feed.attempts < MAX_ATTEMPTS:
                feed.status = "processing"
                feed.attempts += 1
                feed.started_at = feed.started_at or sa.func.now()
                feed.heartbeat_at = sa.func.now()
                return feed.id
            _give_up(session, feed)


def _give_up(session: Session, feed: Feed) -> None:
    """A feed whose processing keeps stopping half-way: fail it rather than retry for ever."""
    log.error("feed failed after repeated attempts", extra={"feed_id": str(feed.id), "attempts": feed.attempts})
    if feed.content_oid is not None:
        session.execute(sa.text("SELECT lo_unlink(:oid)"), {"oid": feed.content_oid})
    feed.content_oid = None
    feed.status, feed.finished_at = "failed", sa.func.now()
    feed.reason = (f"Processing stopped {feed.attempts} times at line {feed.lines_read}; the rows before it "
                   "were stored. Please tell the scheme's support team.")


@dataclass
class Batch:
    records: list[TapRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rejected: int = 0
    ignored: int = 0
    last_line: int = 1
    bytes_read: int = 0

    @property
    def rows(self) -> int:
        return len(self.records) + self.rejected + self.ignored


@dataclass(frozen=True)
class Progress:
    feed_id: uuid.UUID
    stage: str
    bytes_read: int
    size_bytes: int
    rows: int


ProgressCallback = Callable[[Progress], None]


@tracing.new_trace("feed")
def process(database: Database, feed_id: uuid.UUID, hasher: CardHasher, *, clock: Clock = utc_now,
            on_progress: ProgressCallback | None = None, chunk_rows: int = CHUNK_ROWS) -> str:
    """Process a claimed feed to the end; its final status (`done` or `failed`). `clock` is read per
    chunk: a large file takes minutes."""
    with database.transaction() as session:
        feed = session.get(Feed, feed_id)
        operator = operators.profile(operators.get(session, feed.operator_id))
        oid, fmt, after_line, size, done_rows = (feed.content_oid, feed.format, feed.lines_read, feed.size_bytes,
                                                 feed.rows)
    notify = on_progress or (lambda progress: None)
    with LargeObject(database, oid, size) as content:
        # A byte order mark is dropped; bytes that are not UTF-8 are kept as escapes, so that one such
        # row is that row's error rather than the end of the file.
        text = io.TextIOWrapper(io.BufferedReader(content, PIECE), encoding="utf-8-sig", errors="surrogateescape",
                                newline="")
        try:
            lines = lines_of(text)
            parser = open_parser(fmt, next(lines, ""), operator, hasher, clock())
            batches = _batches(rows(parser, lines, after_line=after_line), chunk_rows, content)
            for batch in prefetch(batches):
                done_rows += batch.rows
                _save(database, feed_id, operator.operator_id, parser.format, batch, now=clock())
                notify(Progress(feed_id, "loading", batch.bytes_read, size, done_rows))
        except FormatError as error:
            return _finish(database, feed_id, "failed", str(error))
    _pair(database, feed_id, operator.operator_id, clock,
          lambda: notify(Progress(feed_id, "pairing", size, size, done_rows)))
    return _finish(database, feed_id, "done")


def _batches(parsed: Iterable[tuple[int, object]], size: int, content: LargeObject) -> Iterator[Batch]:
    batch = Batch()
    for line, result in parsed:
        if result is None:
            pass
        elif isinstance(result, TapRecord):
            batch.records.append(result)
        elif isinstance(result, Ignored):
            batch.ignored += 1
        else:
            batch.errors.extend(result)
            batch.rejected += 1
        batch.last_line = line
        if batch.rows >= size:
            batch.bytes_read = content.position
            yield batch
            batch = Batch()
    batch.bytes_read = content.position
    if batch.rows or batch.last_line > 1:
        yield batch


def _save(database: Database, feed_id: uuid.UUID, operator_id: str, detected: str, batch: Batch, *,
          now: datetime) -> None:
    with database.transaction() as session:
        # The chunk and the feed's progress commit together, so a commit lost in a server crash is
        # simply done again on resume: no need to wait for the WAL flush.
        session.execute(sa.text("SET LOCAL synchronous_commit = off"))
        stored = store_taps(session, operator_id, batch.records, now=now, feed_id=feed_id)
        if batch.errors:
            connection = session.connection().connection.driver_connection
            with connection.cursor().copy("COPY feed_errors (feed_id, line, field, message) FROM STDIN") as copy:
                for error in batch.errors:
                    copy.write_row((feed_id, error.line, error.field, error.message))
        session.execute(sa.update(Feed).where(Feed.id == feed_id).values(
            detected_format=detected, rows=Feed.rows + batch.rows, accepted=Feed.accepted + stored.accepted,
            replaced=Feed.replaced + stored.replaced, duplicates=Feed.duplicates + stored.duplicates,
            ignored=Feed.ignored + batch.ignored, rejected=Feed.rejected + batch.rejected,
            lines_read=batch.last_line, bytes_read=batch.bytes_read, heartbeat_at=sa.func.now()))
    metrics.count_feed_rows(detected, accepted=stored.accepted, replaced=stored.replaced, duplicate=stored.duplicates,
                            rejected=batch.rejected, ignored=batch.ignored)


def _pair(database: Database, feed_id: uuid.UUID, operator_id: str, clock: Clock,
          beat: Callable[[], None]) -> None:
    def step(session: Session) -> int:
        paired = journeys.drain(session, now=clock(), operator_id=operator_id, limit=PAIRING_BATCH)
        session.execute(sa.update(Feed).where(Feed.id == feed_id).values(heartbeat_at=sa.func.now()))
        beat()
        return paired

    jobs.drain(database, step, batch=PAIRING_BATCH)


def _finish(database: Database, feed_id: uuid.UUID, status: str, reason: str | None = None) -> str:
    with database.transaction() as session:
        feed = session.get(Feed, feed_id)
        if feed.content_oid is not None:
            session.execute(sa.text("SELECT lo_unlink(:oid)"), {"oid": feed.content_oid})
        feed.content_oid = None
        feed.status, feed.reason, feed.finished_at = status, reason, sa.func.now()
        if status == "done":
            feed.bytes_read = feed.size_bytes
    log.info("feed processed", extra={"feed_id": str(feed_id), "status": status, "reason": reason})
    return status


def process_waiting(database: Database, hasher: CardHasher, *, clock: Clock = utc_now) -> int:
    """Process queued feeds until none is left; how many."""
    count = 0
    while (feed_id := claim(database)) is not None:
        try:
            process(database, feed_id, hasher, clock=clock)
        except Exception:
            log.exception("feed processing stopped; it will be resumed", extra={"feed_id": str(feed_id)})
            raise
        count += 1
    return count


class LargeObject(io.RawIOBase):
    """A large object read in pieces over a connection of its own."""

    def __init__(self, database: Database, oid: int | None, size: int):
        self.url, self.oid, self.size = libpq_url(database.url), oid, size
        self.position = 0
        self.connection: psycopg.Connection | None = None

    def __enter__(self):
        self.connection = psycopg.connect(self.url, autocommit=True)
        return self

    def __exit__(self, *exc):
        self.connection.close()
        self.close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.oid is None or self.position >= self.size:
            return 0
        piece = self.connection.execute("SELECT lo_get(%s, %s, %s)",
                                        (self.oid, self.position, len(buffer))).fetchone()[0]
        buffer[:len(piece)] = piece
        self.position += len(piece)
        return len(piece)


_DONE = object()


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Produce `items` in a thread of their own, at most `depth` ahead: parsing the next chunk while the
    database stores this one. Errors reach the consumer; a consumer that stops stops the producer."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as error:  # handed to the consumer, which re-raises it
            offer(error)

    producer = threading.Thread(target=produce, name="feed-parser", daemon=True)
    producer.start()
    try:
        while (item := buffer.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        producer.join(timeout=10)
