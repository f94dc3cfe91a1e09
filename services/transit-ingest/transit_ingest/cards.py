"""Card references are only ever kept as a keyed HMAC of (operator, card reference)."""
from __future__ import annotations

from rewards_shared.batches import KeyedHasher


class CardHasher(KeyedHasher):
    setting = "a card HMAC key (CARD_HMAC_KEY or CARD_HMAC_KEY_FILE)"


def hint(card_ref: str) -> str:
    """What a person may see of a card reference: its last four characters."""
    return "…" + card_ref[-4:] if len(card_ref) > 4 else "…"
