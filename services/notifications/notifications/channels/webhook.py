"""A signed webhook to the app backend: HMAC-SHA256 over `timestamp.body`, in a Stripe-style header.

    Rewards-Signature: t=1764067200,v1=5f2b…

The receiver recomputes the HMAC with the shared secret over `f"{t}.{raw_body}"`, compares it in
constant time, and rejects timestamps older than its tolerance (the README has the recipe).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import requests

from rewards_shared.runtime import Clock, utc_now

from .base import Outgoing, TryAgain, http_failure

SIGNATURE_HEADER = "Rewards-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does: parse the header, check the age, compare every v1 signature in constant time."""
    parts = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for key, value in parts if key == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, value) for key, value in parts if key == "v1")


@dataclass(frozen=True)
class WebhookChannel:
    url: str
    secret: str
    timeout: float = 10.0
    clock: Clock = utc_now
    name: str = "webhook"

    def body(self, message: Outgoing) -> bytes:
        document = {"delivery_id": message.delivery_id, "type": "notification", "member_id": message.member_id,
                    "kind": message.kind, "locale": message.locale, "title": message.title, "body": message.body,
                    "data": message.data}
        return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()

    def send(self, message: Outgoing) -> str | None:
        body = self.body(message)
        signature = sign(self.secret, int(self.clock().timestamp()), body)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature,
                   "Rewards-Delivery-Id": message.delivery_id}
        try:
            response = requests.post(self.url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise TryAgain(f"app backend unreachable: {type(error).__name__}") from None
        if not response.ok:
            raise http_failure("app backend", response.status_code)
        return None
