"""HTTP: the blueprints and their request and response schemas. A view parses, calls one service
function and maps its result."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rewards_shared import web

if TYPE_CHECKING:
    from ..bootstrap import Points


def runtime() -> Points:
    """The runtime of the app serving this request."""
    return web.runtime()


# The blueprints' views call runtime() above, so they are imported after it.
from . import adjustments, challenges, members, providers, referrals, rules, volunteering  # noqa: E402

BLUEPRINTS = [members.blp, members.exports_blp, referrals.blp, rules.blp, adjustments.blp, volunteering.blp,
              challenges.blp, providers.blp, providers.members_blp]
