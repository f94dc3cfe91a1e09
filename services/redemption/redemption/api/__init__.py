"""HTTP entry points: a view parses the request, calls one service function and shapes its answer."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rewards_shared import web
from rewards_shared.validation import IDENTIFIER

if TYPE_CHECKING:
    from ..bootstrap import RedemptionRuntime

ID = IDENTIFIER


def runtime() -> RedemptionRuntime:
    return web.runtime()


# Imported last: the blueprints import ID and runtime from here.
from . import catalogue, pos, redemptions, settlement  # noqa: E402

BLUEPRINTS = [catalogue.blp, redemptions.blp, pos.blp, settlement.blp]
