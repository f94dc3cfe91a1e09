"""HTTP entry points: parse, authorise, call the domain, shape the answer."""
from __future__ import annotations

from flask import current_app

from rewards_shared.db import Database
from rewards_shared.validation import IDENTIFIER

ID = IDENTIFIER


def database() -> Database:
    return current_app.extensions["database"]
