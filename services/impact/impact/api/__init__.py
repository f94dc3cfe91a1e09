from rewards_shared import web

from ..bootstrap import Impact


def runtime() -> Impact:
    return web.runtime()


from . import journeys, reports  # noqa: E402  (the blueprints use runtime())

BLUEPRINTS = [reports.blp, journeys.blp]
