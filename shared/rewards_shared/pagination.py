"""Opaque cursors for keyset pagination (`?limit=&cursor=`)."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, validate

from .errors import Invalid


class PageArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None)


def keyset_page(rows: list, limit: int, key: Callable[[Any], tuple]) -> tuple[list, str | None]:
    """Rows fetched with `limit + 1`: this page, and the cursor of the next (None on the last page)."""
    page = rows[:limit]
    return page, encode_cursor(*key(page[-1])) if len(rows) > limit else None


def encode_cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list | None:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise Invalid("The cursor is not one this API gave out.", field="cursor") from None
    if not isinstance(values, list) or len(values) != arity:
        raise Invalid("The cursor is not one this API gave out.", field="cursor")
    return values
