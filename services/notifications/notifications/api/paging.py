"""Keyset pages: ask for one row more than the limit to know whether another page follows."""
from __future__ import annotations

from rewards_shared.pagination import decode_cursor, keyset_page


def before_seq(args: dict) -> int | None:
    cursor = decode_cursor(args["cursor"], 1)
    return int(cursor[0]) if cursor else None


def page_of(rows: list, limit: int) -> dict:
    items, cursor = keyset_page(rows, limit, lambda row: (row.seq,))
    return {"items": items, "next_cursor": cursor}
