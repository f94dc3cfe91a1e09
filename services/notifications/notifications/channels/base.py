"""The one interface every delivery channel implements, and the two ways a send can fail."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """One rendered message for one recipient. `to` is an address, a phone number or a push token."""
    delivery_id: str
    member_id: str
    kind: str
    locale: str
    to: str | None
    title: str
    body: str
    html: str
    data: dict = field(default_factory=dict)


class DeliveryFailed(Exception):
    """A send that did not happen. The message names status codes and provider error codes, never a
    recipient's address, so it is safe to store and log."""
    permanent = False


class TryAgain(DeliveryFailed):
    """The peer is down, slow or busy: the same message may succeed later."""


class Refused(DeliveryFailed):
    """The peer refused this message for good (bad address, unregistered token): retrying cannot help."""
    permanent = True

    def __init__(self, message: str, *, target_gone: bool = False):
        super().__init__(message)
        self.target_gone = target_gone


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> str | None:
        """Send one message; returns the peer's message id when it gives one, raises DeliveryFailed."""


def http_failure(service: str, status: int, code: str | None = None) -> DeliveryFailed:
    """HTTP peers: 408, 429 and 5xx are worth retrying; any other 4xx is a refusal."""
    detail = f"{service} answered {status}" + (f" {code}" if code else "")
    if status in (408, 425, 429) or status >= 500:
        return TryAgain(detail)
    return Refused(detail)
