"""A member's preferences: channels per kind of message, quiet hours in their time zone, the daily digest.

Stored as one document; whatever a member has not chosen takes the defaults below, so a member who
never set anything still hears about what matters.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .catalogue import KINDS, MEMBER_CHANNELS, PREFERENCE_KINDS

DEFAULTS: dict = {
    "locale": "en-GB",
    "time_zone": "Europe/London",
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "digest": {"enabled": True, "below_points": 20, "at": "18:00"},
}


def default_channels() -> dict[str, dict[str, bool]]:
    return {kind: {channel: channel in KINDS[kind].default_channels for channel in MEMBER_CHANNELS}
            for kind in PREFERENCE_KINDS}


def effective(stored: dict | None) -> dict:
    """The member's choices laid over the defaults, channel by channel."""
    stored = stored or {}
    channels = default_channels()
    for kind, switches in (stored.get("channels") or {}).items():
        if kind in channels:
            channels[kind].update(switches)
    document = {key: stored.get(key, default) for key, default in DEFAULTS.items()}
    if document["digest"] is not None:
        document["digest"] = {**DEFAULTS["digest"], **document["digest"]}
    return {**document, "channels": channels}


def _clock(value: str) -> time:
    return time.fromisoformat(value)


@dataclass(frozen=True)
class Schedule:
    """When a member may be contacted, in their own time zone."""
    time_zone: ZoneInfo
    quiet_start: time | None
    quiet_end: time | None
    digest_at: time | None
    digest_below: int

    @classmethod
    def of(cls, document: dict) -> Schedule:
        quiet, digest = document.get("quiet_hours"), document.get("digest")
        enabled = bool(digest and digest.get("enabled"))
        return cls(ZoneInfo(document["time_zone"]),
                   _clock(quiet["start"]) if quiet else None, _clock(quiet["end"]) if quiet else None,
                   _clock(digest["at"]) if enabled else None, digest["below_points"] if enabled else 0)

    def is_quiet(self, moment: datetime) -> bool:
        if self.quiet_start is None:
            return False
        local = moment.astimezone(self.time_zone).time()
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end

    def release(self, moment: datetime) -> datetime:
        """The moment itself, or the end of the quiet hours it falls in: deferred, never dropped."""
        if not self.is_quiet(moment):
            return moment
        return self.next_local(moment, self.quiet_end)

    def next_digest(self, moment: datetime) -> datetime:
        return self.next_local(moment, self.digest_at)

    def digests(self, points: int | None) -> bool:
        return self.digest_at is not None and points is not None and 0 < points < self.digest_below

    def next_local(self, moment: datetime, clock: time) -> datetime:
        """The first time after `moment` that the member's wall clock reads `clock`."""
        local = moment.astimezone(self.time_zone)
        candidate = datetime.combine(local.date(), clock, self.time_zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), clock, self.time_zone)
        return candidate.astimezone(moment.tzinfo)
