"""Bearer credentials: Ed25519-signed tokens any service can verify with the public key alone.

The private key stays with whoever issues credentials (the `rewards credentials` CLI); services
hold only the public key, so no service stores a usable secret. Revocations travel as
`credential.revoked` events and each service keeps its own list.

Member-bound credentials (`member:<id>`) may also be signed with a second key, which the points
service holds to mint short-lived ones for the app; a token signed with that key is accepted only
for a `member:` role, so that key can never make a staff or app credential.

Roles, and what each reaches (each view names the kinds it admits; the service layer narrows a
tenant's or a member's credential to their own objects):
- `app`: the trusted app backend, for every member;
- `member:<id>`: that member's own objects only (another member's answer 404);
- `operator:<id>`, `partner:<id>`, `organiser:<id>`, `provider:<id>` (an activity provider): that
  tenant's own objects;
- staff: `admin` (credentials, earning rules, the operator registry), `catalogue` (partners,
  rewards, community groups, opportunities), `finance` (settlement, adjustments), `support` (look a
  member up, erase, export), `analyst` (aggregate reports only).
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import NotFound

ISSUER = "smart-leeds-rewards"
STAFF_KINDS = ("admin", "catalogue", "finance", "support", "analyst")
ROLE_KINDS = ("app", *STAFF_KINDS, "operator", "partner", "organiser", "provider", "member")
_SUBJECT_KINDS = ("operator", "partner", "organiser", "provider", "member")
DEFAULT_TTL_SECONDS = 90 * 86400
MEMBER_TTL_SECONDS = 3600
MEMBER_KEY_ID = "member"


class InvalidCredential(Exception):
    pass


class Unreachable(NotFound):
    """Another member's object, answered as if it did not exist (a 404, like an unknown one)."""


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
        """The credential is that tenant's or member's own (no role reaches another's objects)."""
        return self.kind == kind and self.subject == subject

    def reaches_member(self, member_id: str | None) -> bool:
        """A member-bound credential reaches only its member; the kinds a view admits reach all."""
        return self.kind != "member" or self.subject == member_id

    def check_member(self, member_id: str | None, what: str | None = None) -> None:
        """Refuse, as not found, an object of another member than a member-bound credential's own."""
        if self.kind == "member" and self.subject != member_id:
            raise Unreachable(what or f"No member {member_id}.")

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


@dataclass(frozen=True)
class Issued:
    token: str
    jti: str
    role: str
    issued_at: int
    expires_at: int


def issue_credential(private_key_pem: str, role: str, *, ttl_seconds: int | None = None,
                     key_id: str | None = None) -> Issued:
    """A new token for `role`, expiring after `ttl_seconds` (default: DEFAULT_TTL_SECONDS)."""
    parse_role(role)
    now = int(time.time())
    jti = uuid.uuid4().hex
    expires_at = now + (DEFAULT_TTL_SECONDS if ttl_seconds is None else ttl_seconds)
    claims = {"iss": ISSUER, "role": role, "jti": jti, "iat": now, "exp": expires_at}
    headers = {"kid": key_id} if key_id else None
    token = jwt.encode(claims, private_key_pem, algorithm="EdDSA", headers=headers)
    return Issued(token, jti, role, now, expires_at)


def issue(private_key_pem: str, role: str, *, ttl_seconds: int | None = None) -> tuple[str, str]:
    """A new token for `role`; returns (token, jti)."""
    issued = issue_credential(private_key_pem, role, ttl_seconds=ttl_seconds)
    return issued.token, issued.jti


def issue_for_member(member_key_pem: str, member_id: str, *, ttl_seconds: int = MEMBER_TTL_SECONDS) -> Issued:
    """A member-bound credential signed with the member key (what the points service may hold)."""
    return issue_credential(member_key_pem, f"member:{member_id}", ttl_seconds=ttl_seconds, key_id=MEMBER_KEY_ID)


class Verifier:
    def __init__(self, public_key_pem: str, is_revoked: Callable[[str], bool] = lambda jti: False, *,
                 member_public_key_pem: str | None = None):
        self.public_key = serialization.load_pem_public_key(public_key_pem.encode())
        self.member_key = serialization.load_pem_public_key(member_public_key_pem.encode()) \
            if member_public_key_pem else None
        self.is_revoked = is_revoked

    def verify(self, token: str) -> Principal:
        try:
            by_member_key = jwt.get_unverified_header(token).get("kid") == MEMBER_KEY_ID
            key = self.member_key if by_member_key else self.public_key
            if key is None:
                raise InvalidCredential("member credentials are not accepted here")
            claims = jwt.decode(token, key, algorithms=["EdDSA"], issuer=ISSUER,
                                options={"require": ["iss", "role", "jti", "iat", "exp"]})
            role = parse_role(claims["role"])
        except (jwt.PyJWTError, ValueError) as error:
            raise InvalidCredential(str(error)) from error
        if by_member_key and not role.startswith("member:"):
            raise InvalidCredential("the member key signs member credentials only")
        if self.is_revoked(claims["jti"]):
            raise InvalidCredential("credential revoked")
        return Principal(role=role, jti=claims["jti"])
