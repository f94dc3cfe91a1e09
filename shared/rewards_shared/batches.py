"""JSON batches from partners' systems (an operator's taps, a provider's activities): each row is loaded on
its own, bad rows are reported by index and field while the good ones go through; references to a person's
card or membership are kept only as a keyed HMAC."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from marshmallow import Schema, ValidationError, fields

from .errors import TooLarge


@dataclass
class RowError:
    index: int
    field: str
    message: str


class RowErrorOut(Schema):
    index = fields.Integer()
    field = fields.String()
    message = fields.String()


class BatchResultOut(Schema):
    """What a batch's answer always says; each kind of batch adds its own counts (replaced, corrected…)."""
    accepted = fields.Integer(metadata={"description": "New rows"})
    duplicates = fields.Integer(metadata={"description": "Rows sent before, unchanged"})
    rejected = fields.Integer(metadata={"description": "Rows refused (each named in `errors`)"})
    errors = fields.List(fields.Nested(RowErrorOut))


def rejected(errors: list[RowError]) -> int:
    """How many rows the errors refuse (a row may have several)."""
    return len({error.index for error in errors})


def check_size(rows: list, *, limit: int, noun: str) -> None:
    if len(rows) > limit:
        raise TooLarge(f"At most {limit} {noun} per request; split the batch.",
                       errors={noun: [f"{len(rows)} {noun} sent"]})


def load_rows(rows: list, schema: Schema, noun: str,
              check: Callable[[dict], tuple[str, str] | None] = lambda row: None
              ) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """Split raw rows into loaded ones (with their index) and per-field errors; `check` may refuse a loaded
    row with (field, message)."""
    valid, errors = [], []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(RowError(index, "_row", f"Each {noun} must be a JSON object."))
            continue
        try:
            loaded = schema.load(row)
        except ValidationError as error:
            for name, messages in sorted(error.normalized_messages().items()):
                errors.append(RowError(index, name, messages[0] if isinstance(messages, list) else str(messages)))
            continue
        refused = check(loaded)
        if refused is not None:
            errors.append(RowError(index, *refused))
            continue
        valid.append((index, loaded))
    return valid, errors


class KeyedHasher:
    """HMAC-SHA256 of (tenant, reference) under a service key given as hex: what is stored of a reference."""

    setting = "the HMAC key"

    def __init__(self, key: str | bytes):
        if not key:
            raise ValueError(f"{self.setting} is required")
        self._key = bytes.fromhex(key.strip()) if isinstance(key, str) else key

    def __call__(self, tenant: str, reference: str) -> bytes:
        return hmac.new(self._key, f"{tenant}\x1f{reference}".encode(), hashlib.sha256).digest()
