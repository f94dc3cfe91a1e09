"""Card references are only ever kept as a keyed HMAC of (operator, card reference)."""
from __future__ import annotations

import hashlib
import hmac


class CardHasher:
    def __init__(self, key: str | bytes):
        if not key:
            raise ValueError("a card HMAC key is required (CARD_HMAC_KEY or CARD_HMAC_KEY_FILE)")
        self._key = bytes.fromhex(key.strip()) if isinstance(key, str) else key

    def __call__(self, operator_id: str, card_ref: str) -> bytes:
        return hmac.new(self._key, f"{operator_id}\x1f{card_ref}".encode(), hashlib.sha256).digest()


def hint(card_ref: str) -> str:
    """What a person may see of a card reference: its last four characters."""
    return "…" + card_ref[-4:] if len(card_ref) > 4 else "…"
