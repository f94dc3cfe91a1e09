"""The service layer: one function per use case, for the views and the CLI.

Each takes the runtime and, where it matters who asks, the caller's Principal: a partner reaches only
its own rewards, vouchers and statements, a member-bound credential only its member's redemptions;
only the app and the member see a voucher's code. Each runs in one transaction, and the domain writes
the events to the outbox in it."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from rewards_shared import exports
from rewards_shared.auth import Principal
from rewards_shared.errors import Forbidden, Gone, Invalid, NotFound
from rewards_shared.pagination import decode_cursor, page_of

from . import catalogue, redemptions, settlement, vouchers, waiting
from .models import Partner, PartnerLocation, Redemption, Reward

if TYPE_CHECKING:
    from .bootstrap import RedemptionRuntime

_STAFF_ONLY = ("funded_by", "settlement_pence")
_MEMBERS_SIDE = ("app", "member")
_QR_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


@dataclass(frozen=True)
class Image:
    body: bytes
    media_type: str


# --- partners ---------------------------------------------------------------------------------------

def add_partner(rt: RedemptionRuntime, *, partner_id: str, **details) -> tuple[Partner, bool]:
    """The partner, and whether it is new (an identical repeat finds the existing one)."""
    with rt.database.transaction() as session:
        return catalogue.add_partner(session, id=partner_id, **details)


def list_partners(rt: RedemptionRuntime, *, limit: int, cursor: str | None) -> dict:
    after = decode_cursor(cursor, (str,))
    with rt.database.transaction() as session:
        rows = catalogue.partners(session, limit=limit + 1, after=after[0] if after else None)
    return page_of(rows, limit, lambda partner: (partner.id,))


def get_partner(rt: RedemptionRuntime, principal: Principal, partner_id: str) -> Partner:
    _authorise_partner(principal, partner_id, staff="catalogue")
    with rt.database.transaction() as session:
        return catalogue.partner(session, partner_id)


def update_partner(rt: RedemptionRuntime, partner_id: str, changes: dict[str, Any]) -> Partner:
    with rt.database.transaction() as session:
        return catalogue.update_partner(session, partner_id, changes)


# --- where a partner's vouchers are used ------------------------------------------------------------

def add_location(rt: RedemptionRuntime, partner_id: str, **details) -> PartnerLocation:
    with rt.database.transaction() as session:
        return catalogue.add_location(session, partner_id, **details)


def list_locations(rt: RedemptionRuntime, principal: Principal, partner_id: str, *, limit: int,
                   cursor: str | None) -> dict:
    """Members and the app see every partner's locations; a partner its own."""
    if principal.kind == "partner":
        _authorise_partner(principal, partner_id)
    after = decode_cursor(cursor, (str,))
    with rt.database.transaction() as session:
        rows = catalogue.locations(session, partner_id, limit=limit + 1, after=after[0] if after else None)
    return page_of(rows, limit, lambda location: (location.location_id,))


def remove_location(rt: RedemptionRuntime, partner_id: str, location_id: str) -> None:
    with rt.database.transaction() as session:
        catalogue.remove_location(session, partner_id, location_id)


# --- rewards ----------------------------------------------------------------------------------------

def add_reward(rt: RedemptionRuntime, principal: Principal, *, reward_id: str, **terms) -> tuple[dict, bool]:
    """The reward, and whether it is new (an identical repeat finds the existing one)."""
    with rt.database.transaction() as session:
        reward, created = catalogue.add_reward(session, {**terms, "id": reward_id})
        return _reward_view(session, reward, principal, rt.clock()), created


def list_rewards(rt: RedemptionRuntime, principal: Principal, *, limit: int, cursor: str | None,
                 partner_id: str | None = None, available: bool | None = None, category: str | None = None,
                 q: str | None = None) -> dict:
    """The app sees what members can redeem now unless it asks otherwise; a partner sees its own rewards."""
    if principal.kind == "partner":
        partner_id = principal.subject
    if available is None:
        available = principal.kind in _MEMBERS_SIDE
    after = decode_cursor(cursor, (str,))
    at = rt.clock()
    with rt.database.transaction() as session:
        rows = catalogue.rewards(session, limit=limit + 1, after=after[0] if after else None,
                                 partner_id=partner_id, available_at=at if available else None,
                                 category=category, q=q)
        page = page_of(rows, limit, lambda reward: (reward.id,))
        page["items"] = [_reward_view(session, reward, principal, at) for reward in page["items"]]
    return page


def get_reward(rt: RedemptionRuntime, principal: Principal, reward_id: str) -> dict:
    """Another partner's reward is hidden as if it did not exist."""
    with rt.database.transaction() as session:
        reward = catalogue.reward(session, reward_id)
        if principal.kind == "partner":
            _authorise_partner(principal, reward.partner_id, hide=f"No reward {reward_id}.")
        return _reward_view(session, reward, principal, rt.clock())


def update_reward(rt: RedemptionRuntime, principal: Principal, reward_id: str, changes: dict[str, Any]) -> dict:
    """Existing redemptions keep the terms they were requested under."""
    with rt.database.transaction() as session:
        return _reward_view(session, catalogue.update_reward(session, reward_id, changes), principal, rt.clock())


def _reward_view(session: Session, reward: Reward, principal: Principal, at: datetime) -> dict:
    """What the council pays a partner is shown to staff and the partner, never to the app."""
    reason = catalogue.unavailable_because(reward, session.get(Partner, reward.partner_id), at)
    view = {column: getattr(reward, column) for column in (
        "partner_id", "title", "description", "cost_points", "stock", "per_member_limit", "valid_from",
        "valid_until", "voucher_valid_days", "active", "category", *_STAFF_ONLY)}
    view.update(reward_id=reward.id, available=reason is None, unavailable_reason=reason)
    if principal.kind in _MEMBERS_SIDE:
        for column in _STAFF_ONLY:
            del view[column]
    return view


# --- redemptions ------------------------------------------------------------------------------------

def request_redemption(rt: RedemptionRuntime, principal: Principal, idempotency_key: str, *, member_id: str,
                       reward_id: str) -> Redemption:
    """Reserve stock and start the saga; the same credential and key always name the same redemption."""
    principal.check_member(member_id)
    redemption_id = redemptions.redemption_id_for(principal.role, idempotency_key)
    with rt.database.transaction() as session:
        if rt.tombstones.is_erased(session, member_id):
            raise Gone(f"Member {member_id} was erased.", field="member_id")
        return redemptions.request(session, redemption_id=redemption_id, member_id=member_id,
                                   reward_id=reward_id, at=rt.clock())


def get_redemption(rt: RedemptionRuntime, principal: Principal, redemption_id: str, *,
                   wait_seconds: float = 0) -> dict:
    """Where the redemption stands, after waiting up to `wait_seconds` for it to leave pending."""
    parsed = _parse_id(redemption_id)
    if wait_seconds > 0:
        waiting.wait_until_settled(rt.database, parsed, wait_seconds)
    with rt.database.transaction() as session:
        return _redemption_view(rt, principal, _reachable(session, principal, parsed))


def cancel_redemption(rt: RedemptionRuntime, principal: Principal, redemption_id: str) -> dict:
    """Cancelling twice is harmless; a used or expired voucher cannot be cancelled."""
    parsed = _parse_id(redemption_id)
    with rt.database.transaction() as session:
        _reachable(session, principal, parsed)
        return _redemption_view(rt, principal, redemptions.cancel(session, parsed))


def voucher_image(rt: RedemptionRuntime, principal: Principal, redemption_id: str, kind: str) -> Image:
    """The voucher's QR code while it can be used: 404 before it is issued, 410 once it is over."""
    parsed = _parse_id(redemption_id)
    with rt.database.transaction() as session:
        redemption = _reachable(session, principal, parsed)
    if redemption.status == "pending":
        raise NotFound(f"Redemption {redemption_id} has no voucher yet; it is pending.")
    if redemption.status != "issued":
        raise Gone(f"Redemption {redemption_id} has no usable voucher; it is {redemption.status}.")
    code = rt.voucher_key.code_for(parsed)
    body = vouchers.qr_png(code) if kind == "png" else vouchers.qr_svg(code)
    return Image(body, _QR_TYPES[kind])


def member_redemptions(rt: RedemptionRuntime, principal: Principal, member_id: str, *, limit: int,
                       cursor: str | None) -> dict:
    """A member's redemptions, newest first."""
    principal.check_member(member_id)
    before = decode_cursor(cursor, (datetime, uuid.UUID))
    with rt.database.transaction() as session:
        rows = redemptions.history(session, member_id, limit=limit + 1, before=before)
        page = page_of(rows, limit, lambda redemption: (redemption.requested_at, redemption.id))
        page["items"] = [_redemption_view(rt, principal, redemption) for redemption in page["items"]]
    return page


def _reachable(session: Session, principal: Principal, redemption_id: uuid.UUID) -> Redemption:
    """The redemption, unless it is another member's than a member-bound credential's (then, not found)."""
    redemption = redemptions.get(session, redemption_id)
    principal.check_member(redemption.member_id, f"No redemption {redemption_id}.")
    return redemption


def _parse_id(redemption_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(redemption_id)
    except ValueError:
        raise NotFound(f"No redemption {redemption_id}.") from None


def _redemption_view(rt: RedemptionRuntime, principal: Principal, redemption: Redemption) -> dict:
    """A live voucher's code goes to the app and the member only, never to staff."""
    view = {column: getattr(redemption, column) for column in (
        "member_id", "reward_id", "partner_id", "reward_title", "cost_points", "status", "expires_at", "reason",
        "requested_at", "issued_at", "redeemed_at", "ended_at")}
    view["redemption_id"] = str(redemption.id)
    if redemption.status == "issued" and principal.kind in _MEMBERS_SIDE:
        view["voucher_code"] = vouchers.display(rt.voucher_key.code_for(redemption.id))
        base = f"/v1/redemptions/{redemption.id}/voucher"
        view["voucher_qr"] = {kind: f"{base}.{kind}" for kind in _QR_TYPES}
    return view


# --- the till ---------------------------------------------------------------------------------------

def validate_voucher(rt: RedemptionRuntime, principal: Principal, code: str) -> dict:
    """Whether the voucher can be used now; another partner's voucher is as unknown as a made-up one."""
    partner_id, canonical = _till_partner(principal), _canonical(code)
    with rt.database.transaction() as session:
        return _voucher_view(canonical, redemptions.validate(session, canonical, partner_id, at=rt.clock()))


def redeem_voucher(rt: RedemptionRuntime, principal: Principal, code: str, *, key: str | None = None) -> dict:
    """Use the voucher, once; the ledger captures the held points when it hears of it. `key` is the till's
    Idempotency-Key: the same key again finds its own redemption."""
    partner_id, canonical = _till_partner(principal), _canonical(code)
    with rt.database.transaction() as session:
        redeemed = redemptions.redeem(session, canonical, partner_id, by=principal.id, key=key, at=rt.clock())
        return _voucher_view(canonical, redeemed)


def _till_partner(principal: Principal) -> str:
    if principal.kind != "partner":
        raise Forbidden("Vouchers are validated and redeemed with a partner's credential.")
    return principal.subject


def _canonical(code: str) -> str:
    try:
        return vouchers.normalise(code)
    except vouchers.MalformedCode as error:
        raise Invalid(str(error), field="code") from None


def _voucher_view(code: str, redemption: Redemption) -> dict:
    return {"code": vouchers.display(code), "redemption_id": str(redemption.id), "reward_id": redemption.reward_id,
            "reward_title": redemption.reward_title, "status": redemption.status,
            "expires_at": redemption.expires_at, "redeemed_at": redemption.redeemed_at}


# --- settlement -------------------------------------------------------------------------------------

def settlement_statement(rt: RedemptionRuntime, principal: Principal, partner_id: str, period_from: date,
                         period_to: date) -> settlement.Statement:
    """Finance sees every partner's statement; a partner sees its own."""
    _authorise_partner(principal, partner_id, staff="finance")
    with rt.database.transaction() as session:
        catalogue.partner(session, partner_id)
        return settlement.statement(session, partner_id, period_from, period_to)


def _authorise_partner(principal: Principal, partner_id: str, hide: str | None = None,
                       staff: str | None = None) -> None:
    """Refuse a credential that does not act for the partner (nor is the `staff` role that reaches every
    partner); with `hide`, as if the object did not exist."""
    if principal.acts_for("partner", partner_id) or (staff is not None and principal.kind == staff):
        return
    if hide:
        raise NotFound(hide)
    raise Forbidden(f"This credential does not act for partner {partner_id}.")


# --- erasure and subject access -----------------------------------------------------------------

def forget_member(rt: RedemptionRuntime, session: Session, member_id: str) -> None:
    """`member.erased`: live redemptions are cancelled (their stock returns; the ledger has released the
    holds itself), and every redemption loses the member's id. Redeemed ones stay for settlement."""
    if rt.tombstones.bury(session, member_id):
        redemptions.forget_member(session, member_id)


def answer_export(rt: RedemptionRuntime, session: Session, request: dict) -> None:
    member_id = request["member_id"]
    held = redemptions.history(session, member_id, limit=100_000)
    exports.answer(session, service="redemption", request=request, part={
        "erased": rt.tombstones.is_erased(session, member_id),
        "redemptions": [_redemption_view(rt, _EXPORT, redemption) for redemption in held]})


_EXPORT = Principal(role="support", jti="export")
