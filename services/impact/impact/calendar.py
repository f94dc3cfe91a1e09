"""Leeds days and peak hours: every fact is filed under its Europe/London day."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LEEDS = ZoneInfo("Europe/London")


def local_day(at: datetime) -> date:
    return at.astimezone(LEEDS).date()


@dataclass(frozen=True)
class PeakHours:
    """Weekday windows (local time) when a journey counts as peak; the default is the earning scheme's."""

    windows: tuple[tuple[time, time], ...] = ((time(7, 0), time(9, 30)), (time(16, 0), time(18, 30)))

    @classmethod
    def parse(cls, text: str | None) -> PeakHours:
        """`07:00-09:30,16:00-18:30` → windows."""
        if not text:
            return cls()
        windows = []
        for part in text.split(","):
            start, _, end = part.strip().partition("-")
            windows.append((time.fromisoformat(start), time.fromisoformat(end)))
        return cls(tuple(windows))

    def is_peak(self, at: datetime) -> bool:
        local = at.astimezone(LEEDS)
        clock = local.time().replace(tzinfo=None)
        return local.weekday() < 5 and any(start <= clock < end for start, end in self.windows)

    def describe(self) -> str:
        spans = " and ".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in self.windows)
        return f"Monday to Friday {spans}, Europe/London; every other time is off-peak"


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


def next_month(month: str) -> str:
    first = date.fromisoformat(month + "-01")
    return month_of((first + timedelta(days=32)).replace(day=1))
