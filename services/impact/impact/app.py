from __future__ import annotations

from flask import Flask

from rewards_shared.web import create_service_app

from .api import BLUEPRINTS
from .bootstrap import Impact, bootstrap


def create_app(rt: Impact | None = None) -> Flask:
    return create_service_app(rt or bootstrap(), title="Smart Leeds Rewards — impact", blueprints=BLUEPRINTS)
