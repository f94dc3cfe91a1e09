"""Keyset pages: ask for one row more than the limit to know whether another page follows."""
from __future__ import annotations

from rewards_shared.pagination import decode_cursor, encode_cursor


def before_seq(args: dict) -> int | None:
    cursor = decode_cursor(args["cursor"], 1)
    return int(cursor[0]) if cursor else None


def page_of(rows: list, limit: int) -> dict:
    items = rows[:limit]
    return {"items": items, "next_cursor": encode_cursor(items[-1].seq) if len(rows) > limit else None}
