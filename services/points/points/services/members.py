"""Members: registration, erasure, balance and statement, and the member-bound credentials the app
hands to a member's phone."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from rewards_shared import auth, erasure
from rewards_shared.auth import Principal
from rewards_shared.errors import DomainError, Gone, Invalid, NotFound
from rewards_shared.pagination import decode_cursor, keyset_page

from .. import ledger, referrals
from ..models import Export, Member

if TYPE_CHECKING:
    from ..bootstrap import Points


class CredentialsUnavailable(DomainError):
    status = 503
    title = "Service Unavailable"


@dataclass(frozen=True)
class Registration:
    member: Member
    created: bool


def living_member(rt: Points, session: Session, member_id: str, *, for_update: bool = False) -> Member:
    """The member, or why not: 404 unknown, 410 erased."""
    if rt.tombstones.is_erased(session, member_id):
        raise Gone(f"Member {member_id} was erased.")
    member = session.get(Member, member_id, with_for_update=for_update)
    if member is None:
        raise NotFound(f"No member {member_id}.")
    if member.erased_at is not None:
        raise Gone(f"Member {member_id} was erased.")
    return member


def refuse_if_erased(rt: Points, session: Session, member_id: str) -> None:
    if rt.tombstones.is_erased(session, member_id) or ledger.is_erased(session, member_id):
        raise Gone(f"Member {member_id} was erased.")


def register_member(rt: Points, member_id: str, *, referral_code: str | None = None) -> Registration:
    """Open the member's accounts and tell the other services, once; an erased id is never reused.
    A referral code is applied with the registration, or neither happens."""
    if member_id.startswith(erasure.PSEUDONYM_PREFIX):
        raise Invalid(f"Member ids starting {erasure.PSEUDONYM_PREFIX!r} are reserved.", field="member_id")
    with rt.database.transaction() as session:
        if rt.tombstones.is_erased(session, member_id):
            raise Gone(f"Member {member_id} was erased; use a new member id.")
        created = ledger.ensure_member(session, member_id)
        member = session.get(Member, member_id)
        if member.erased_at is not None:
            raise Gone(f"Member {member_id} was erased; use a new member id.")
        if created:
            ledger.emit(session, "member.registered", member_id, registered_at=member.registered_at.isoformat())
        if referral_code is not None:
            referrals.apply(session, member_id, referral_code, at=rt.clock())
    return Registration(member, created)


def erase_member(rt: Points, principal: Principal, member_id: str) -> None:
    """Every service forgets the member (`member.erased`); the ledger keeps its amounts under a random
    pseudonym. Repeating it is harmless."""
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        if rt.tombstones.is_erased(session, member_id):
            return
        if not ledger.erase_member(session, member_id, pseudonym=erasure.new_pseudonym(), at=rt.clock()):
            raise NotFound(f"No member {member_id}.")
        rt.tombstones.bury(session, member_id)
        session.query(Export).filter(Export.member_id == member_id).delete()


def balance(rt: Points, principal: Principal, member_id: str) -> dict:
    principal.check_member(member_id)
    with rt.database.reading() as connection:
        current = ledger.balance_view(connection, member_id)
        if current is None or rt.tombstones.is_erased(connection, member_id):
            _unknown_or_erased(rt, connection, member_id)
    return current


def _unknown_or_erased(rt: Points, connection, member_id: str) -> None:
    """Why a member has nothing to show: 410 erased (like every other route of theirs), else 404."""
    if rt.tombstones.is_erased(connection, member_id):
        raise Gone(f"Member {member_id} was erased.")
    raise NotFound(f"No member {member_id}.")


def summary(rt: Points, principal: Principal, member_id: str) -> dict:
    """What the app's home screen shows: the member, their tier and points, and how far to the next tier."""
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        member = living_member(rt, session, member_id)
        points = ledger.balance_view(session, member_id)
        upcoming = ledger.next_tier(member.lifetime_earned)
        return {**points, "registered_at": member.registered_at,
                "profile": {"home_area": member.home_area, "usual_mode": member.usual_mode,
                            "research_consent": member.research_consent},
                "next_tier": upcoming[0] if upcoming else None,
                "points_to_next_tier": upcoming[1] if upcoming else None}


def transactions(rt: Points, principal: Principal, member_id: str, *, limit: int, cursor: str | None) -> dict:
    """The member's statement, newest first, a page at a time."""
    principal.check_member(member_id)
    after = decode_cursor(cursor, (int,))
    with rt.database.transaction() as session:
        if session.get(Member, member_id) is None or rt.tombstones.is_erased(session, member_id):
            _unknown_or_erased(rt, session, member_id)
        rows = ledger.history(session, member_id, limit=limit + 1, before_seq=after[0] if after else None)
    page, next_cursor = keyset_page(rows, limit, lambda transfer: (transfer.seq,))
    return {"items": [ledger.entry(transfer, member_id) for transfer in page], "next_cursor": next_cursor}


def issue_member_credential(rt: Points, principal: Principal, member_id: str, *,
                            ttl_seconds: int | None) -> dict:
    """A credential that reaches only this member's objects, for the app to hand to their phone.
    The app can already act for every member, so minting a narrower one gives it nothing new."""
    if not rt.member_key:
        raise CredentialsUnavailable("Member credentials are not configured on this server.")
    longest = int(rt.member_max_ttl.total_seconds())
    # compared as a number first: a huge one would overflow a timedelta
    ttl = rt.member_ttl if not ttl_seconds else timedelta(seconds=min(ttl_seconds, longest + 1))
    if ttl > rt.member_max_ttl:
        raise Invalid(f"At most {longest} seconds.", field="ttl_seconds")
    with rt.database.transaction() as session:
        living_member(rt, session, member_id)
    issued = auth.issue_for_member(rt.member_key, member_id, ttl_seconds=int(ttl.total_seconds()))
    return {"token": issued.token, "credential_id": issued.jti, "role": issued.role,
            "expires_at": datetime.fromtimestamp(issued.expires_at, UTC)}
