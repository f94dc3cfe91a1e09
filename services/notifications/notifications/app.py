"""The notifications web app; gunicorn calls `notifications.app:create_app()`."""
from __future__ import annotations

from flask import Flask

from rewards_shared.web import create_service_app

from . import api
from .bootstrap import Notifications, bootstrap


def create_app(rt: Notifications | None = None) -> Flask:
    return create_service_app(rt or bootstrap(), title="Smart Leeds Rewards — notifications",
                              blueprints=api.BLUEPRINTS)
