"""Delivery channels behind one interface, built from configuration (secrets via Settings.get_secret)."""
from __future__ import annotations

from rewards_shared.config import Settings

from .base import Channel, DeliveryFailed, Outgoing, Refused, TryAgain
from .email import EmailChannel
from .push import PushChannel
from .sms import HttpSmsProvider, SmsChannel
from .webhook import WebhookChannel

__all__ = ["Channel", "DeliveryFailed", "Outgoing", "Refused", "TryAgain", "from_settings"]


def from_settings(settings: Settings) -> dict[str, Channel]:
    """Every channel whose peer is configured; a channel left unconfigured gets no deliveries at all."""
    timeout = float(settings.get("NOTIFICATIONS_SEND_TIMEOUT_SECONDS", "10"))
    channels: dict[str, Channel] = {}
    if settings.get("NOTIFICATIONS_SMTP_HOST"):
        channels["email"] = EmailChannel(
            host=settings.get("NOTIFICATIONS_SMTP_HOST"), port=settings.get_int("NOTIFICATIONS_SMTP_PORT", 25),
            sender=settings.get("NOTIFICATIONS_EMAIL_FROM", "Smart Leeds Rewards <rewards@leeds.gov.uk>"),
            username=settings.get("NOTIFICATIONS_SMTP_USERNAME"),
            password=_secret(settings, "NOTIFICATIONS_SMTP_PASSWORD"),
            starttls=settings.get("NOTIFICATIONS_SMTP_STARTTLS", "0") == "1", timeout=timeout)
    if settings.get("NOTIFICATIONS_PUSH_PROJECT"):
        channels["push"] = PushChannel(
            endpoint=settings.get("NOTIFICATIONS_PUSH_ENDPOINT", "https://fcm.googleapis.com"),
            project=settings.get("NOTIFICATIONS_PUSH_PROJECT"),
            access_token=_secret(settings, "NOTIFICATIONS_PUSH_ACCESS_TOKEN") or "", timeout=timeout)
    if settings.get("NOTIFICATIONS_WEBHOOK_URL"):
        secret = _secret(settings, "NOTIFICATIONS_WEBHOOK_SECRET")
        if not secret:
            raise ValueError("NOTIFICATIONS_WEBHOOK_URL is set but NOTIFICATIONS_WEBHOOK_SECRET is not")
        channels["webhook"] = WebhookChannel(url=settings.get("NOTIFICATIONS_WEBHOOK_URL"), secret=secret,
                                             timeout=timeout)
    if settings.get("NOTIFICATIONS_SMS_URL"):
        channels["sms"] = SmsChannel(HttpSmsProvider(
            url=settings.get("NOTIFICATIONS_SMS_URL"), api_key=_secret(settings, "NOTIFICATIONS_SMS_API_KEY") or "",
            sender=settings.get("NOTIFICATIONS_SMS_SENDER", "LeedsReward"), timeout=timeout))
    return channels


def _secret(settings: Settings, name: str) -> str | None:
    """From `NAME` or the file named in `NAME_FILE`, without the newline a secrets file usually ends with."""
    value = settings.get_secret(name)
    return value.strip() if value else None
