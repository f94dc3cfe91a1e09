"""The composition root: settings, clock, database, the configured channels and the retry policy, read
once per process for the web app and the worker alike."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from rewards_shared import topics
from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.erasure import Tombstones
from rewards_shared.runtime import Clock, Runtime, utc_now
from rewards_shared.worker import WorkerSpec

from . import handlers, jobs
from .channels import Channel, EmailChannel, HttpSmsProvider, PushChannel, SmsChannel, WebhookChannel
from .deliveries import RetryPolicy
from .models import erased_members

TOPICS = [topics.LEDGER_EVENTS, topics.REDEMPTION_EVENTS, topics.MEMBERS]


@dataclass(frozen=True)
class Notifications(Runtime):
    channels: Mapping[str, Channel] = field(default_factory=dict)
    retry: RetryPolicy = RetryPolicy()
    dispatch_every: float = 1.0
    digest_every: float = 60.0
    tombstones: Tombstones = field(default_factory=lambda: Tombstones(erased_members, None))


def bootstrap(settings: Settings | None = None, *, clock: Clock = utc_now,
              database: Database | None = None) -> Notifications:
    settings = settings or Settings.from_env("notifications")
    return Notifications(
        settings=settings, database=database or Database(settings.database_url), clock=clock,
        channels=configured_channels(settings, clock), retry=retry_policy(settings),
        dispatch_every=float(settings.get("NOTIFICATIONS_DISPATCH_SECONDS", "1")),
        digest_every=float(settings.get("NOTIFICATIONS_DIGEST_SECONDS", "60")),
        tombstones=Tombstones.from_settings(erased_members, settings))


def worker_spec(rt: Notifications) -> WorkerSpec:
    return WorkerSpec(service="notifications", topics=TOPICS, handlers=handlers.build(rt), jobs=jobs.build(rt))


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.get_int("NOTIFICATIONS_MAX_ATTEMPTS", 6),
        first_delay=timedelta(seconds=float(settings.get("NOTIFICATIONS_RETRY_SECONDS", "30"))),
        longest_delay=timedelta(seconds=float(settings.get("NOTIFICATIONS_RETRY_MAX_SECONDS", "3600"))))


def configured_channels(settings: Settings, clock: Clock = utc_now) -> dict[str, Channel]:
    """Every channel whose peer is configured; a channel left unconfigured gets no deliveries at all."""
    timeout = float(settings.get("NOTIFICATIONS_SEND_TIMEOUT_SECONDS", "10"))
    channels: dict[str, Channel] = {}
    if settings.get("NOTIFICATIONS_SMTP_HOST"):
        channels["email"] = EmailChannel(
            host=settings.get("NOTIFICATIONS_SMTP_HOST"), port=settings.get_int("NOTIFICATIONS_SMTP_PORT", 25),
            sender=settings.get("NOTIFICATIONS_EMAIL_FROM", "Smart Leeds Rewards <rewards@leeds.gov.uk>"),
            username=settings.get("NOTIFICATIONS_SMTP_USERNAME"),
            password=_secret(settings, "NOTIFICATIONS_SMTP_PASSWORD"),
            starttls=settings.get("NOTIFICATIONS_SMTP_STARTTLS", "0") == "1", timeout=timeout, clock=clock)
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
                                             timeout=timeout, clock=clock)
    if settings.get("NOTIFICATIONS_SMS_URL"):
        channels["sms"] = SmsChannel(HttpSmsProvider(
            url=settings.get("NOTIFICATIONS_SMS_URL"), api_key=_secret(settings, "NOTIFICATIONS_SMS_API_KEY") or "",
            sender=settings.get("NOTIFICATIONS_SMS_SENDER", "LeedsReward"), timeout=timeout))
    return channels


def _secret(settings: Settings, name: str) -> str | None:
    """From `NAME` or the file named in `NAME_FILE`, without the newline a secrets file usually ends with."""
    value = settings.get_secret(name)
    return value.strip() if value else None
