"""HTTP entry points: parse, authorise, call the domain, shape the answer."""
from __future__ import annotations

from flask import current_app
from marshmallow import validate

from rewards_shared.db import Database

ID = validate.Regexp(r"^[A-Za-z0-9_.:@-]{1,64}$", error="Use 1–64 letters, digits or _ . : @ -.")


def database() -> Database:
    return current_app.extensions["database"]
