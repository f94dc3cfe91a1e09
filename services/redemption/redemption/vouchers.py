"""Voucher codes: single-use, unguessable, short enough to read out at a till.

A code is 16 Crockford base32 characters (80 bits) derived from the redemption id with a keyed
HMAC, shown in groups of four (`7KQM-2X9D-…`). The database keeps only the code's SHA-256, so a
leaked copy of it yields no usable code; the service, holding the key, can always show a member
their code again. At the till, case, spaces, hyphens and the look-alikes O/I/L are forgiven.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import uuid

import segno

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
GROUP = 4
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


class MalformedCode(ValueError):
    """Not something this scheme could have printed."""


class VoucherKey:
    def __init__(self, secret: str | bytes | None):
        if not secret:
            raise ValueError("a voucher key is required (VOUCHER_KEY or VOUCHER_KEY_FILE)")
        raw = secret.encode() if isinstance(secret, str) else secret
        self._key = raw.strip()

    def code_for(self, redemption_id: uuid.UUID) -> str:
        digest = hmac.new(self._key, b"voucher:" + redemption_id.bytes, hashlib.sha256).digest()
        return _base32(digest[:CODE_LENGTH * 5 // 8])


def _base32(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    chars = [ALPHABET[(number >> shift) & 31] for shift in range(5 * (len(data) * 8 // 5 - 1), -1, -5)]
    return "".join(chars)


def normalise(typed: str) -> str:
    """The canonical code for what a cashier typed or a scanner read; MalformedCode otherwise."""
    code = typed.upper().translate(_LOOK_ALIKES)
    if len(code) != CODE_LENGTH or any(char not in ALPHABET for char in code):
        raise MalformedCode(f"A voucher code is {CODE_LENGTH} letters and digits, in groups of {GROUP}.")
    return code


def display(code: str) -> str:
    return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


def fingerprint(code: str) -> str:
    """What the database stores: the hash of the canonical code (80 random bits need no salt)."""
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def qr_png(code: str, *, scale: int = 8) -> bytes:
    out = io.BytesIO()
    _qr(code).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_svg(code: str, *, scale: int = 8) -> bytes:
    out = io.BytesIO()
    _qr(code).save(out, kind="svg", scale=scale, border=4, xmldecl=False, title=f"Voucher {display(code)}")
    return out.getvalue()


def _qr(code: str):
    # Uppercase alphanumerics without separators fit QR's compact alphanumeric mode.
    return segno.make_qr(normalise(code), error="m")
