"""HTTP: the blueprints of the transit-ingest API and their request and response schemas."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rewards_shared import web

if TYPE_CHECKING:
    from ..bootstrap import TransitIngest


def runtime() -> TransitIngest:
    return web.runtime()


from . import card_links, feeds, operators, taps  # noqa: E402  (they use runtime())

BLUEPRINTS = [operators.blp, card_links.blp, card_links.members_blp, taps.blp, feeds.blp]
