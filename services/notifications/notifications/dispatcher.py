"""Sends the deliveries the consumer wrote: outside any consumer transaction, one thread per channel, so a
channel that is down or slow holds up only its own queue."""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy.orm import Session

from rewards_shared.db import Database
from rewards_shared.runtime import Clock

from . import deliveries, members
from .channels import Channel, DeliveryFailed, Outgoing, Refused, TryAgain
from .deliveries import Claimed, RetryPolicy
from .templates import Templates, default_templates

log = logging.getLogger(__name__)

_NO_ADDRESS = {"email": "no email address on file", "sms": "no phone number on file",
               "push": "the push token is no longer registered"}


class Dispatcher:
    # The lease outlasts a whole batch against a peer that times out on every message (20 × 10 s), so a
    # second worker never takes a delivery this one is still sending.
    def __init__(self, database: Database, channels: Mapping[str, Channel], *, clock: Clock,
                 policy: RetryPolicy | None = None, templates: Templates | None = None, batch: int = 20,
                 lease: timedelta = timedelta(minutes=10)):
        self.database = database
        self.channels = channels
        self.policy = policy or RetryPolicy()
        self.templates = templates or default_templates()
        self.batch = batch
        self.lease = lease
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(channels)), thread_name_prefix="deliver")
        self._running: dict[str, Future] = {}
        self._lock = threading.Lock()

    def tick(self) -> None:
        """Start a round for every channel that is not still busy with its previous one; never waits."""
        with self._lock:
            for name in self.channels:
                running = self._running.get(name)
                if running is None or running.done():
                    self._running[name] = self._pool.submit(self._round_logged, name)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _round_logged(self, channel: str) -> int:
        try:
            return self.dispatch(channel)
        except Exception:
            log.exception("delivery round failed", extra={"channel": channel})
            return 0

    def dispatch(self, channel: str) -> int:
        """One round for one channel: claim what is due, send each, settle each; returns how many were sent."""
        sent = 0
        for message, claimed in self._claim(channel):
            sent += self._send(self.channels[channel], message, claimed)
        return sent

    def _claim(self, channel: str) -> list[tuple[Outgoing, Claimed]]:
        with self.database.transaction() as session:
            claimed = deliveries.claim(session, channel, self.clock(), limit=self.batch, lease=self.lease)
            ready = []
            for item in claimed:
                try:
                    message = self._message(session, item)
                except Exception as error:
                    log.exception("delivery could not be rendered", extra={"delivery_id": str(item.id)})
                    deliveries.mark_failed_attempt(session, item, f"could not be rendered: {type(error).__name__}",
                                                   permanent=True, policy=self.policy, now=self.clock())
                    continue
                if message is None:
                    deliveries.cancel(session, item.id, _NO_ADDRESS.get(channel, "no longer reachable"))
                else:
                    ready.append((message, item))
            return ready

    def _message(self, session: Session, item: Claimed) -> Outgoing | None:
        to = _recipient(session, item)
        if item.channel != "webhook" and to is None:
            return None
        document = members.preferences_of(session, item.member_id)
        rendered = self.templates.render(item.kind, item.context, item.locale, document["time_zone"])
        return Outgoing(delivery_id=str(item.id), member_id=item.member_id, kind=item.kind, locale=item.locale,
                        to=to, title=rendered.title, body=rendered.body, html=rendered.html, data=item.context)

    def _send(self, channel: Channel, message: Outgoing, claimed: Claimed) -> int:
        try:
            provider_id = channel.send(message)
        except DeliveryFailed as error:
            self._settle_failure(claimed, error)
            return 0
        except Exception as error:
            log.exception("channel raised unexpectedly", extra={"channel": claimed.channel})
            self._settle_failure(claimed, TryAgain(f"unexpected {type(error).__name__}"))
            return 0
        with self.database.transaction() as session:
            deliveries.mark_sent(session, claimed.id, provider_id, self.clock())
        return 1

    def _settle_failure(self, claimed: Claimed, error: DeliveryFailed) -> None:
        with self.database.transaction() as session:
            status = deliveries.mark_failed_attempt(session, claimed, str(error), permanent=error.permanent,
                                                    policy=self.policy, now=self.clock())
            if isinstance(error, Refused) and error.target_gone and claimed.target:
                members.forget_push_token(session, claimed.member_id, claimed.target)
        log.warning("delivery attempt failed", extra={"delivery_id": str(claimed.id), "channel": claimed.channel,
                                                      "attempt": claimed.attempts, "status": status,
                                                      "error": str(error)})


def _recipient(session: Session, item: Claimed) -> str | None:
    if item.channel == "webhook":
        return None
    contact = members.contacts(session, item.member_id)
    if contact is None:
        return None
    if item.channel == "push":
        return item.target if item.target in contact.push_tokens else None
    return contact.email if item.channel == "email" else contact.phone
