"""Members: registration, erasure, balance and statement."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rewards_shared.errors import Gone, NotFound
from rewards_shared.pagination import decode_cursor, keyset_page

from .. import ledger
from ..models import Member

if TYPE_CHECKING:
    from ..bootstrap import Points


@dataclass(frozen=True)
class Registration:
    member: Member
    created: bool


def register_member(rt: Points, member_id: str) -> Registration:
    """Open the member's accounts and tell the other services, once; an erased id is never reused."""
    with rt.database.transaction() as session:
        created = ledger.ensure_member(session, member_id)
        member = session.get(Member, member_id)
        if member.erased_at is not None:
            raise Gone(f"Member {member_id} was erased; use a new member id.")
        if created:
            ledger.emit(session, "member.registered", member_id, registered_at=member.registered_at.isoformat())
    return Registration(member, created)


def erase_member(rt: Points, member_id: str) -> None:
    with rt.database.transaction() as session:
        if not ledger.erase_member(session, member_id, at=rt.clock()):
            raise NotFound(f"No member {member_id}.")


def balance(rt: Points, member_id: str) -> dict:
    with rt.database.reading() as connection:
        current = ledger.balance_view(connection, member_id)
    if current is None:
        raise NotFound(f"No member {member_id}.")
    return current


def transactions(rt: Points, member_id: str, *, limit: int, cursor: str | None) -> dict:
    """The member's statement, newest first, a page at a time."""
    after = decode_cursor(cursor, (int,))
    with rt.database.transaction() as session:
        if session.get(Member, member_id) is None:
            raise NotFound(f"No member {member_id}.")
        rows = ledger.history(session, member_id, limit=limit + 1, before_seq=after[0] if after else None)
    page, next_cursor = keyset_page(rows, limit, lambda transfer: (transfer.seq,))
    return {"items": [ledger.entry(transfer, member_id) for transfer in page], "next_cursor": next_cursor}
