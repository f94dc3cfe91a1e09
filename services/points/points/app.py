"""The web process: gunicorn serves `points.app:create_app()`."""
from __future__ import annotations

from flask import Flask

from rewards_shared.web import create_service_app

from . import api
from .bootstrap import Points, bootstrap


def create_app(rt: Points | None = None) -> Flask:
    return create_service_app(rt or bootstrap(), title="Smart Leeds Rewards — points", blueprints=api.BLUEPRINTS)
