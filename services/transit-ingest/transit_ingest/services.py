"""The service layer: one function per use case, for the API, the worker and the CLI. Who may reach
which operator's objects is decided here, never in a view."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared import batches, exports
from rewards_shared.auth import Principal
from rewards_shared.errors import Forbidden, Gone
from rewards_shared.pagination import decode_cursor, page_of

from . import SERVICE, feeds, ingest, links, operators, stops
from .models import CardLink, Feed, FeedError, Journey, Operator, Tap

if TYPE_CHECKING:
    from .bootstrap import TransitIngest


def _authorize(principal: Principal, operator_id: str, *, staff: bool = False) -> None:
    """That operator's own credential (or, with `staff`, the admin who keeps the operator registry)."""
    if not (principal.acts_for("operator", operator_id) or (staff and principal.kind == "admin")):
        raise Forbidden(f"This credential does not act for operator {operator_id}.")


# Operators (admin; an operator may read its own registration)

def register_operator(rt: TransitIngest, operator_id: str, **settings) -> Operator:
    with rt.database.transaction() as session:
        return operators.register(session, id=operator_id, **settings)


def list_operators(rt: TransitIngest) -> list[Operator]:
    with rt.database.transaction() as session:
        return operators.listing(session)


def get_operator(rt: TransitIngest, principal: Principal, operator_id: str) -> Operator:
    _authorize(principal, operator_id, staff=True)
    with rt.database.transaction() as session:
        return operators.get(session, operator_id)


def update_operator(rt: TransitIngest, operator_id: str, **changes) -> Operator:
    with rt.database.transaction() as session:
        return operators.update(session, operator_id, **changes)


def load_stops(rt: TransitIngest, operator_id: str, body: BinaryIO) -> stops.StopsLoaded:
    with rt.database.transaction() as session:
        return stops.load(session, operator_id, body)


# Taps and files

@dataclass(frozen=True)
class TapBatchResult:
    accepted: int
    replaced: int
    duplicates: int
    rejected: int
    errors: list[ingest.RowError]


def push_taps(rt: TransitIngest, principal: Principal, operator_id: str, rows: list) -> TapBatchResult:
    """Good rows are stored and paired at once; bad rows come back by index and field."""
    _authorize(principal, operator_id)
    ingest.check_size(rows)
    valid, errors = ingest.validate_rows(rows)
    with rt.database.transaction() as session:
        operators.active(session, operator_id)
        result = ingest.ingest(session, operator_id, valid, rt.cards, now=rt.clock())
    return TapBatchResult(result.accepted, result.replaced, result.duplicates, batches.rejected(errors), errors)


def receive_feed(rt: TransitIngest, principal: Principal, operator_id: str, fmt: str, body: BinaryIO, *,
                 filename: str | None = None, expected_bytes: int | None = None) -> Feed:
    """Queue an uploaded file for the worker; one that ends before `expected_bytes` is not kept."""
    _authorize(principal, operator_id)
    with rt.database.transaction() as session:
        return feeds.receive(session, operator_id, fmt, body, filename=filename, created_by=principal.role,
                             expected_bytes=expected_bytes)


def load_feed(rt: TransitIngest, operator_id: str, fmt: str, body: BinaryIO, *, filename: str | None = None,
              on_progress: feeds.ProgressCallback | None = None) -> Feed:
    """Receive and process a file here and now (the CLI), the same way the worker does an upload."""
    with rt.database.transaction() as session:
        feed_id = feeds.receive(session, operator_id, fmt, body, filename=filename, created_by="cli",
                                claimed=True).id
    feeds.process(rt.database, feed_id, rt.cards, clock=rt.clock, on_progress=on_progress)
    with rt.database.transaction() as session:
        return feeds.get(session, operator_id, feed_id)


def list_feeds(rt: TransitIngest, principal: Principal, operator_id: str, *, limit: int,
               cursor: str | None) -> dict:
    """A page of the operator's feeds, newest first: `{items, next_cursor}`."""
    _authorize(principal, operator_id)
    after = decode_cursor(cursor, (datetime, uuid.UUID))
    with rt.database.transaction() as session:
        found = feeds.listing(session, operator_id, limit=limit + 1, after=after)
    return page_of(found, limit, lambda feed: (feed.created_at, feed.id))


def get_feed(rt: TransitIngest, principal: Principal, operator_id: str,
             feed_id: uuid.UUID) -> tuple[Feed, list[FeedError]]:
    """The feed and its first rejections."""
    _authorize(principal, operator_id)
    with rt.database.transaction() as session:
        feed = feeds.get(session, operator_id, feed_id)
        return feed, feeds.first_errors(session, feed.id)


def rejection_report(rt: TransitIngest, principal: Principal, operator_id: str,
                     feed_id: uuid.UUID) -> Iterator[str]:
    """Every rejected row of the feed as CSV, streamed."""
    _authorize(principal, operator_id)
    with rt.database.transaction() as session:
        feeds.get(session, operator_id, feed_id)
    return feeds.rejection_report(rt.database, feed_id)


# Card links (the app backend, or a member's own credential)

def link_card(rt: TransitIngest, principal: Principal, *, member_id: str, operator_id: str,
              card_ref: str) -> tuple[CardLink, bool]:
    """(link, created); the card's journeys from the retroactive window become the member's."""
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        if rt.tombstones.is_erased(session, member_id):
            raise Gone(f"Member {member_id} was erased.", field="member_id")
        return links.link(session, rt.cards, member_id=member_id, operator_id=operator_id, card_ref=card_ref,
                          now=rt.clock())


def unlink_card(rt: TransitIngest, principal: Principal, *, operator_id: str, card_ref: str) -> None:
    with rt.database.transaction() as session:
        if principal.kind == "member":
            links.unlink_own(session, rt.cards, member_id=principal.subject, operator_id=operator_id,
                             card_ref=card_ref, now=rt.clock())
        else:
            links.unlink(session, rt.cards, operator_id=operator_id, card_ref=card_ref, now=rt.clock())


def card_links(rt: TransitIngest, principal: Principal, member_id: str, *, limit: int,
               cursor: str | None) -> dict:
    """The member's cards, linked now or before (only the last characters of each card are kept)."""
    principal.check_member(member_id)
    after = decode_cursor(cursor, (datetime, int))
    with rt.database.transaction() as session:
        rows = links.links_of(session, member_id, limit=limit + 1, after=after)
    return page_of(rows, limit, lambda link: (link.linked_at, link.id))


def member_journeys(rt: TransitIngest, principal: Principal, member_id: str, *, limit: int,
                    cursor: str | None) -> dict:
    """The member's journeys, newest first; those past tap retention no longer name anyone, so they go."""
    principal.check_member(member_id)
    before = decode_cursor(cursor, (datetime, str))
    with rt.database.transaction() as session:
        rows = links.journeys_of(session, member_id, limit=limit + 1, before=before)
    return page_of(rows, limit, lambda journey: (journey["started_at"], journey["journey_id"]))


# Erasure and subject access (events from the points service)

def forget_member(rt: TransitIngest, session: Session, member_id: str) -> None:
    links.forget_member(session, member_id)
    rt.tombstones.bury(session, member_id)


def answer_export(rt: TransitIngest, session: Session, request: dict) -> None:
    """The member's card links, the journeys credited to them, and every stored tap of their cards."""
    member_id = request["member_id"]
    cards = links.member_cards(session, member_id)
    taps = session.execute(sa.select(Tap).where(sa.tuple_(Tap.operator_id, Tap.card_hash).in_(cards))
                           .order_by(Tap.occurred_at)).scalars().all() if cards else []
    found = session.execute(sa.select(Journey).where(Journey.member_id == member_id)
                            .order_by(Journey.started_at)).scalars().all()
    exports.answer(session, service=SERVICE.name, request=request, part={
        "erased": rt.tombstones.is_erased(session, member_id),
        "card_links": [exports.columns_of(link, hidden={"id", "card_hash", "member_id"})
                       for link in links.links_of(session, member_id)],
        "journeys": [exports.columns_of(journey, hidden={"card_hash", "announced_revision"}) for journey in found],
        "taps": [exports.columns_of(tap, hidden={"card_hash"}) for tap in taps]})
