"""The service layer: one function per use case, called by the views and the handlers.

Functions the views call open their own transaction and take the caller's principal; those the handlers
call run in the consumer's session, so an event's effects commit with the record that it was handled."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared import exports
from rewards_shared.auth import Principal
from rewards_shared.errors import Gone, NotFound
from rewards_shared.events import Event
from rewards_shared.pagination import decode_cursor, page_of

from . import deliveries, inbox, members
from .catalogue import notice_for
from .models import Contact, Delivery, InboxItem

if TYPE_CHECKING:
    from .bootstrap import Notifications


@contextmanager
def _member(rt: Notifications, principal: Principal, member_id: str) -> Iterator[Session]:
    """One member's use case, in one transaction: the kinds a view admits act for every member, a
    member-bound credential only for its own (another member is not found)."""
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        yield session


def _refuse_if_erased(rt: Notifications, session: Session, member_id: str) -> None:
    if rt.tombstones.is_erased(session, member_id):
        raise Gone(f"Member {member_id} has been erased; nothing more is kept for them.")


def _before_seq(cursor: str | None) -> int | None:
    after = decode_cursor(cursor, (int,))
    return after[0] if after else None


def _by_seq(row) -> tuple:
    return (row.seq,)


# Contacts and preferences

def contacts_of(rt: Notifications, principal: Principal, member_id: str) -> Contact:
    with _member(rt, principal, member_id) as session:
        contact = members.contacts(session, member_id)
    if contact is None:
        raise NotFound(f"No contact details are held for member {member_id}.")
    return contact


def set_contacts(rt: Notifications, principal: Principal, member_id: str, *, email: str | None, phone: str | None,
                 push_tokens: list[str]) -> Contact:
    """Replace how to reach a member; an erased member's details are never kept again."""
    with _member(rt, principal, member_id) as session:
        _refuse_if_erased(rt, session, member_id)
        return members.set_contacts(session, member_id, email=email, phone=phone, push_tokens=push_tokens)


def preferences_of(rt: Notifications, principal: Principal, member_id: str) -> dict:
    with _member(rt, principal, member_id) as session:
        return members.preferences_of(session, member_id)


def set_preferences(rt: Notifications, principal: Principal, member_id: str, chosen: dict) -> dict:
    with _member(rt, principal, member_id) as session:
        _refuse_if_erased(rt, session, member_id)
        return members.set_preferences(session, member_id, chosen)


# The inbox

def inbox_page(rt: Notifications, principal: Principal, member_id: str, *, limit: int, cursor: str | None,
               unread_only: bool) -> dict:
    with _member(rt, principal, member_id) as session:
        rows = inbox.page(session, member_id, limit=limit + 1, unread_only=unread_only,
                          before_seq=_before_seq(cursor))
    return page_of(rows, limit, _by_seq)


def unread_count(rt: Notifications, principal: Principal, member_id: str) -> int:
    with _member(rt, principal, member_id) as session:
        return inbox.unread_count(session, member_id)


def mark_read(rt: Notifications, principal: Principal, member_id: str, notification_id: str) -> InboxItem:
    """Another member's notification, or an id that is no notification's, is simply not there."""
    with _member(rt, principal, member_id) as session:
        try:
            item_id = uuid.UUID(notification_id)
        except ValueError:
            raise NotFound(f"Member {member_id} has no notification {notification_id}.") from None
        return inbox.mark_read(session, member_id, item_id, at=rt.clock())


def mark_all_read(rt: Notifications, principal: Principal, member_id: str) -> int:
    with _member(rt, principal, member_id) as session:
        return inbox.mark_all_read(session, member_id, at=rt.clock())


# Deliveries

def delivery_page(rt: Notifications, principal: Principal, *, member_id: str | None = None, status: str | None,
                  limit: int, cursor: str | None) -> dict:
    """One member's deliveries for whoever acts for them; every member's only for support staff (the view
    admits no one else)."""
    if member_id is not None:
        principal.check_member(member_id)
    with rt.database.transaction() as session:
        rows = deliveries.page(session, member_id=member_id, status=status, limit=limit + 1,
                               before_seq=_before_seq(cursor))
    return page_of(rows, limit, _by_seq)


# Events

def notify(rt: Notifications, session: Session, events: list[tuple[Event, dict]], *, channels: Iterable[str],
           at: datetime) -> None:
    """For each event, an inbox item for its member and a delivery on each channel they want and can be
    reached on; the events' members are looked up together and the rows written in one statement each."""
    noticed = [(event, data["member_id"], notice) for event, data in events
               if (notice := notice_for(event.type, data)) is not None]
    erased = rt.tombstones.erased_among(session, {member_id for _, member_id, _ in noticed})
    noticed = [item for item in noticed if item[1] not in erased]
    documents = members.preferences_of_all(session, {member_id for _, member_id, _ in noticed})
    stored = inbox.deliver_all(session, [(event, member_id, notice, documents[member_id])
                                         for event, member_id, notice in noticed])
    noticed = [item for item in noticed if item[0].id in stored]
    contacts = members.contacts_of_all(session, {member_id for _, member_id, _ in noticed})
    available = frozenset(channels)
    deliveries.write(session, [
        row for event, member_id, notice in noticed
        for row in deliveries.rows_for(
            source=event.id, member_id=member_id, kind=notice.kind.name, locale=documents[member_id]["locale"],
            context=notice.context,
            planned=deliveries.plan(notice, documents[member_id], contacts.get(member_id), available, at))])


def erase_member(rt: Notifications, session: Session, member_id: str) -> None:
    """Contacts, preferences, inbox and deliveries go; a tombstone keeps late events from writing again."""
    members.erase(session, member_id)
    rt.tombstones.bury(session, member_id)


def answer_export(rt: Notifications, session: Session, request: dict) -> None:
    """How the member is reached, what they chose to hear, their inbox and every delivery (with where it went)."""
    member_id = request["member_id"]
    contact = members.contacts(session, member_id)
    rows = {model.__tablename__: session.execute(sa.select(model).where(model.member_id == member_id)
                                                 .order_by(model.seq)).scalars().all()
            for model in (InboxItem, Delivery)}
    exports.answer(session, service="notifications", request=request, part={
        "erased": rt.tombstones.is_erased(session, member_id),
        "contacts": None if contact is None else {"email": contact.email, "phone": contact.phone,
                                                  "push_tokens": contact.push_tokens,
                                                  "updated_at": contact.updated_at},
        "preferences": members.stored_preferences(session, member_id),
        **{name: [exports.columns_of(row) for row in found] for name, found in rows.items()}})
