"""Delivery channels behind one interface; bootstrap builds the configured ones."""
from __future__ import annotations

from .base import Channel, DeliveryFailed, Outgoing, Refused, TryAgain
from .email import EmailChannel
from .push import PushChannel
from .sms import HttpSmsProvider, SmsChannel
from .webhook import WebhookChannel

__all__ = ["Channel", "DeliveryFailed", "EmailChannel", "HttpSmsProvider", "Outgoing", "PushChannel", "Refused",
           "SmsChannel", "TryAgain", "WebhookChannel"]
