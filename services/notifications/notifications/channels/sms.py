"""Text messages through a provider interface; one adapter for a provider with a JSON HTTP API."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import requests

from .base import Outgoing, Refused, TryAgain, http_failure

MAX_LENGTH = 612  # four concatenated GSM-7 segments


class SmsProvider(Protocol):
    def send_text(self, to: str, text: str, *, reference: str) -> str | None:
        """Send one text; returns the provider's message id, raises DeliveryFailed."""


@dataclass(frozen=True)
class HttpSmsProvider:
    """POST {url} with {"to", "from", "body", "reference"} and a bearer API key; 2xx answers {"id": …}."""
    url: str
    api_key: str
    sender: str
    timeout: float = 10.0

    def send_text(self, to: str, text: str, *, reference: str) -> str | None:
        try:
            response = requests.post(self.url, timeout=self.timeout,
                                     json={"to": to, "from": self.sender, "body": text, "reference": reference},
                                     headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": reference})
        except requests.RequestException as error:
            raise TryAgain(f"SMS provider unreachable: {type(error).__name__}") from None
        if not response.ok:
            raise http_failure("SMS provider", response.status_code)
        try:
            return str(response.json().get("id") or "") or None
        except (ValueError, AttributeError):
            return None


@dataclass(frozen=True)
class SmsChannel:
    provider: SmsProvider
    name: str = "sms"

    def send(self, message: Outgoing) -> str | None:
        if not message.to:
            raise Refused("no phone number")
        text = f"{message.title}. {message.body}" if not message.body.startswith(message.title) else message.body
        return self.provider.send_text(message.to, text[:MAX_LENGTH], reference=message.delivery_id)
