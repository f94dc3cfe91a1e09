"""Keyset pagination (`?limit=&cursor=`): opaque cursors that carry typed values, and the one page
schema every list endpoint answers with."""
from __future__ import annotations

import base64
import functools
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate

from .errors import Invalid

NOT_OURS = "The cursor is not one this API gave out."


class PageArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None)


@functools.cache
def page_schema(item: type[Schema]) -> type[Schema]:
    """`{items: [item], next_cursor}` for a list endpoint, named after its item (`RewardOut` → `RewardPage`)."""
    name = item.__name__.removesuffix("Out").removesuffix("Schema") + "Page"
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item)),
        "next_cursor": fields.String(allow_none=True, metadata={
            "description": "Pass as `cursor` for the next page; null on the last page"}),
    }, name=name)


def keyset_page(rows: list, limit: int, key: Callable[[Any], tuple]) -> tuple[list, str | None]:
    """Rows fetched with `limit + 1`: this page, and the cursor of the next (None on the last page)."""
    page = rows[:limit]
    return page, encode_cursor(*key(page[-1])) if len(rows) > limit else None


def page_of(rows: list, limit: int, key: Callable[[Any], tuple]) -> dict:
    """The response body of a list endpoint from rows fetched with `limit + 1`."""
    items, cursor = keyset_page(rows, limit, key)
    return {"items": items, "next_cursor": cursor}


def encode_cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=_plain).encode()).decode().rstrip("=")


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else str(value)


_PARSERS: dict[type, Callable[[Any], Any]] = {
    int: lambda v: int(v) if not isinstance(v, bool) else _refuse(),
    str: lambda v: v if isinstance(v, str) else _refuse(),
    datetime: datetime.fromisoformat,
    uuid.UUID: uuid.UUID,
}


def _refuse():
    raise ValueError


def decode_cursor(cursor: str | None, types: Sequence[type] | int) -> tuple | None:
    """The values a cursor carries, each parsed as the type in `types` (or, given a count, as they
    were encoded); None without a cursor; 422 naming `cursor` for anything this API did not give out."""
    if not cursor:
        return None
    arity = types if isinstance(types, int) else len(types)
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError
        if isinstance(types, int):
            return tuple(values)
        return tuple(_PARSERS[kind](value) for kind, value in zip(types, values, strict=True))
    except (ValueError, TypeError, KeyError):
        raise Invalid(NOT_OURS, field="cursor") from None
