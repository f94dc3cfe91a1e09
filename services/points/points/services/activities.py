"""Activity providers: the registry (admin), memberships (the app, or the member's own credential) and the
batches a provider sends of what its members did. A provider reaches only its own objects."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rewards_shared.auth import Principal
from rewards_shared.errors import DomainError, Forbidden, NotFound
from rewards_shared.pagination import decode_cursor, page_of

from .. import activities
from ..models import Provider
from .members import living_member

if TYPE_CHECKING:
    from ..bootstrap import Points


class MembershipsUnavailable(DomainError):
    status = 503
    title = "Service Unavailable"


def _hasher(rt: Points) -> activities.MembershipHasher:
    if rt.memberships is None:
        raise MembershipsUnavailable("Memberships are not configured on this server (MEMBERSHIP_HMAC_KEY).")
    return rt.memberships


def _authorize(principal: Principal, provider_id: str) -> None:
    if principal.kind == "provider" and not principal.acts_for("provider", provider_id):
        raise Forbidden("This belongs to another provider.", field="provider_id")


def register_provider(rt: Points, *, provider_id: str, name: str, kinds: list[str]) -> tuple[Provider, bool]:
    """A new provider (and whether it is new); the same details again are a repeat."""
    with rt.database.transaction() as session:
        return activities.register_provider(session, provider_id=provider_id, name=name, kinds=kinds)


def list_providers(rt: Points) -> list[Provider]:
    with rt.database.transaction() as session:
        return activities.providers(session)


def link_membership(rt: Points, principal: Principal, *, provider_id: str, membership_ref: str,
                    member_id: str) -> bool:
    """The member's card or membership at the provider, kept only as a keyed hash; True when new."""
    principal.check_member(member_id)
    hasher = _hasher(rt)
    with rt.database.transaction() as session:
        living_member(rt, session, member_id)
        return activities.link_membership(session, hasher, provider_id=provider_id, membership_ref=membership_ref,
                                          member_id=member_id)


def member_memberships(rt: Points, principal: Principal, member_id: str, *, limit: int, cursor: str | None) -> dict:
    """The providers the member has a linked card or membership at."""
    principal.check_member(member_id)
    after = decode_cursor(cursor, (str,))
    with rt.database.transaction() as session:
        living_member(rt, session, member_id)
        rows = activities.memberships_of(session, member_id, after=after[0] if after else None, limit=limit + 1)
    return page_of(rows, limit, lambda m: (m["provider_id"],))


def unlink_memberships(rt: Points, principal: Principal, *, member_id: str, provider_id: str) -> None:
    """The member's cards or memberships at the provider are forgotten; 404 when there were none."""
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        living_member(rt, session, member_id)
        if not activities.unlink_memberships(session, provider_id=provider_id, member_id=member_id):
            raise NotFound(f"The member has no membership linked at {provider_id}.", field="provider_id")


def push_activities(rt: Points, principal: Principal, provider_id: str, rows: list) -> activities.BatchResult:
    """Good rows are stored and told to the ledger and the impact service; bad rows come back by index and field."""
    _authorize(principal, provider_id)
    activities.check_size(rows)
    now = rt.clock()
    valid, errors = activities.validate_rows(rows, now=now)
    result = activities.BatchResult(errors=errors)
    with rt.database.transaction() as session:
        provider = activities.active_provider(session, provider_id)
        hasher = _hasher(rt) if any(row["membership_ref"] for _, row in valid) else None
        activities.record(session, provider, valid, hasher, now=now, result=result)
    result.errors.sort(key=lambda error: error.index)
    return result
