from __future__ import annotations

from flask import Flask

from rewards_shared.web import create_service_app

from . import api
from .bootstrap import RedemptionRuntime, bootstrap


def create_app(rt: RedemptionRuntime | None = None) -> Flask:
    return create_service_app(rt or bootstrap(), title="Smart Leeds Rewards — redemption",
                              blueprints=api.BLUEPRINTS)
