"""The kinds of message a member can get, and what each event means to its member."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MEMBER_CHANNELS = ("email", "push", "sms")


@dataclass(frozen=True)
class Kind:
    name: str
    critical: bool = False
    default_channels: frozenset[str] = frozenset({"push"})


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("points_earned"),
    Kind("points_digest"),
    Kind("points_expiring", default_channels=frozenset({"push", "email"})),
    Kind("points_expired"),
    Kind("tier_changed", default_channels=frozenset({"push", "email"})),
    Kind("voucher_issued", critical=True, default_channels=frozenset({"push", "email"})),
    Kind("redemption_rejected", critical=True, default_channels=frozenset({"push", "email"})),
    Kind("voucher_expired"),
    Kind("challenge_progressed"),
    Kind("challenge_completed", default_channels=frozenset({"push", "email"})),
)}

#: Kinds a member can switch channels for; the digest follows the switches for points_earned.
PREFERENCE_KINDS = tuple(name for name in KINDS if name != "points_digest")


@dataclass(frozen=True)
class Notice:
    """What one event means to its member: the kind of message and the facts the templates need."""
    kind: Kind
    context: dict[str, Any]
    points: int | None = None

    @property
    def digestible(self) -> bool:
        return self.kind.name == "points_earned"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _points(data: dict) -> dict:
    return {"points": data["points"], "source_type": data.get("source_type"), "available": data.get("available"),
            "expires_at": _iso(data.get("expires_at"))}


def _tier(data: dict) -> dict:
    return {"tier": data["tier"], "previous_tier": data.get("previous_tier"),
            "lifetime_earned": data["lifetime_earned"]}


def _redemption(data: dict) -> dict:
    return {"redemption_id": data["redemption_id"], "reward_id": data["reward_id"],
            "reward_title": data.get("reward_title"), "cost_points": data["cost_points"],
            "expires_at": _iso(data.get("expires_at")), "reason": data.get("reason")}


def _challenge(data: dict) -> dict:
    return {"challenge_id": data["challenge_id"], "challenge": data["title"], "kind": data["kind"],
            "progress": data["progress"], "goal": data["goal"], "bonus_points": data.get("bonus_points")}


# The saga ends a refused redemption with redemption.rejected, so points.hold_rejected tells no one:
# one refusal, one message.
_BY_EVENT: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "points.earned": ("points_earned", _points),
    "points.expiring_soon": ("points_expiring", _points),
    "points.expired": ("points_expired", _points),
    "tier.changed": ("tier_changed", _tier),
    "redemption.issued": ("voucher_issued", _redemption),
    "redemption.rejected": ("redemption_rejected", _redemption),
    "redemption.expired": ("voucher_expired", _redemption),
    "challenge.progressed": ("challenge_progressed", _challenge),
    "challenge.completed": ("challenge_completed", _challenge),
}

NOTIFYING_EVENTS = tuple(_BY_EVENT)


def notice_for(event_type: str, data: dict) -> Notice | None:
    entry = _BY_EVENT.get(event_type)
    if entry is None:
        return None
    kind, context = entry
    return Notice(KINDS[kind], context(data), points=data.get("points") if kind == "points_earned" else None)
