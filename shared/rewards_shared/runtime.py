"""What a service's composition root (`<service>/bootstrap.py`) builds once per process and hands to
its web app, its worker and its CLI: settings, the clock, the database, and the service's own parts.
Nothing here connects at import time."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .config import Settings
from .db import Database

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database: Database
    clock: Clock = utc_now

    @property
    def service(self) -> str:
        return self.settings.service
