"""Subject access: gathering what every service holds about one member, over Kafka only.

The points service asks (`member.export_requested`, carrying a one-off X25519 public key); every
service answers with its part (`member.export_part`), JSON compressed and sealed to that key
(X25519 + HKDF-SHA256 + AES-256-GCM), in pieces small enough for one Kafka message each. Only the
points service, which keeps the private key until the export is complete, can read the parts, so the
copies Kafka keeps for its retention period are unreadable once the key is gone.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from . import outbox
from .events import Event

SERVICES = ("points", "transit-ingest", "redemption", "notifications", "impact")
PIECE_BYTES = 384 * 1024
_INFO = b"smart-leeds-rewards member export v1"
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def new_key() -> tuple[bytes, str]:
    """(private key bytes, public key as base64) for one export."""
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(*_RAW)
    return private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption()), base64.b64encode(public).decode()


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=_INFO + ephemeral + recipient).derive(shared)


def seal(public_key_b64: str, plaintext: bytes) -> bytes:
    recipient = base64.b64decode(public_key_b64)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(*_RAW)
    key = _key(ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient)), ephemeral_public, recipient)
    nonce = os.urandom(12)
    return ephemeral_public + nonce + AESGCM(key).encrypt(nonce, plaintext, ephemeral_public)


def unseal(private_key: bytes, sealed: bytes) -> bytes:
    private = X25519PrivateKey.from_private_bytes(private_key)
    recipient = private.public_key().public_bytes(*_RAW)
    ephemeral_public, nonce, ciphertext = sealed[:32], sealed[32:44], sealed[44:]
    key = _key(private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public)), ephemeral_public, recipient)
    return AESGCM(key).decrypt(nonce, ciphertext, ephemeral_public)


def answer(session: Session, *, service: str, request: dict, part: dict[str, Any]) -> int:
    """Write this service's sealed part of an export to the outbox, in pieces; how many pieces."""
    document = json.dumps(part, default=str, sort_keys=True).encode()
    sealed = seal(request["public_key"], gzip.compress(document))
    pieces = [sealed[start:start + PIECE_BYTES] for start in range(0, len(sealed), PIECE_BYTES)] or [b""]
    member_id = request["member_id"]
    outbox.add_many(session, [Event.create("member.export_part", service, member_id, {
        "member_id": member_id, "export_id": request["export_id"], "service": service, "piece": index,
        "pieces": len(pieces), "sealed": base64.b64encode(piece).decode()}) for index, piece in enumerate(pieces)])
    return len(pieces)


def columns_of(row, *, hidden: Iterable[str] = ()) -> dict[str, Any]:
    """A table row as a dict for a part, without the columns named in `hidden`."""
    hidden = set(hidden)
    return {column.key: getattr(row, column.key) for column in row.__table__.columns if column.key not in hidden}


def open_part(private_key: bytes, pieces: Iterable[str]) -> dict[str, Any]:
    """A service's part from its pieces (base64, in order)."""
    sealed = b"".join(base64.b64decode(piece) for piece in pieces)
    return json.loads(gzip.decompress(unseal(private_key, sealed)))
