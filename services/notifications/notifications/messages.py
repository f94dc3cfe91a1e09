"""What a member is told about an event, in British English."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def _plural(n: int) -> str:
    return f"{n} point" if abs(n) == 1 else f"{n} points"


def points_earned(data: dict) -> Message:
    source = {"journey": "your journey", "volunteering": "volunteering"}.get(data.get("source_type"), "taking part")
    body = f"You earned {_plural(data['points'])} for {source}."
    if data.get("available") is not None:
        body += f" Your balance is now {_plural(data['available'])}."
    return Message(f"You earned {_plural(data['points'])}", body)


COMPOSERS = {"points.earned": points_earned}
