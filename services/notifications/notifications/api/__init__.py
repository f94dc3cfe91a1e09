"""HTTP: the blueprints and their request and response schemas; the rules live in `services`."""
from __future__ import annotations

from rewards_shared import web

from ..bootstrap import Notifications


def runtime() -> Notifications:
    """The runtime of the app serving this request."""
    return web.runtime()


# The blueprints' modules use runtime() above, so they are imported after it.
from . import deliveries, inbox, members  # noqa: E402

BLUEPRINTS = [inbox.blp, members.blp, deliveries.blp]
