"""Bearer credentials: Ed25519-signed tokens any service can verify with the public key alone.

The private key stays with whoever issues credentials (the `rewards credentials` CLI); services
hold only the public key, so no service stores a usable secret. Revocations travel as
`credential.revoked` events and each service keeps its own list.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ISSUER = "smart-leeds-rewards"
ROLE_KINDS = ("app", "admin", "analyst", "operator", "partner", "organiser")
_SUBJECT_KINDS = ("operator", "partner", "organiser")


class InvalidCredential(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    role: str
    jti: str

    @property
    def kind(self) -> str:
        return self.role.split(":", 1)[0]

    @property
    def subject(self) -> str | None:
        return self.role.split(":", 1)[1] if ":" in self.role else None

    def acts_for(self, kind: str, subject: str) -> bool:
        """Admin reaches everything; others only their own objects."""
        return self.kind == "admin" or (self.kind == kind and self.subject == subject)

    @property
    def id(self) -> str:
        return f"{self.role}#{self.jti}"


def parse_role(role: str) -> str:
    kind, _, subject = role.partition(":")
    if kind not in ROLE_KINDS:
        raise ValueError(f"unknown role {kind!r}; expected one of {', '.join(ROLE_KINDS)}")
    if kind in _SUBJECT_KINDS and not subject:
        raise ValueError(f"role {kind} needs an id: {kind}:<id>")
    if kind not in _SUBJECT_KINDS and subject:
        raise ValueError(f"role {kind} takes no id")
    return role


def generate_keypair() -> tuple[str, str]:
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def issue(private_key_pem: str, role: str, *, ttl_seconds: int | None = None) -> tuple[str, str]:
    """A new token for `role`; returns (token, jti)."""
    parse_role(role)
    now = int(time.time())
    jti = uuid.uuid4().hex
    claims = {"iss": ISSUER, "role": role, "jti": jti, "iat": now}
    if ttl_seconds:
        claims["exp"] = now + ttl_seconds
    return jwt.encode(claims, private_key_pem, algorithm="EdDSA"), jti


class Verifier:
    def __init__(self, public_key_pem: str, is_revoked: Callable[[str], bool] = lambda jti: False):
        self.public_key = serialization.load_pem_public_key(public_key_pem.encode())
        self.is_revoked = is_revoked

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["EdDSA"], issuer=ISSUER,
                                options={"require": ["iss", "role", "jti", "iat"]})
            role = parse_role(claims["role"])
        except (jwt.PyJWTError, ValueError) as error:
            raise InvalidCredential(str(error)) from error
        if self.is_revoked(claims["jti"]):
            raise InvalidCredential("credential revoked")
        return Principal(role=role, jti=claims["jti"])
