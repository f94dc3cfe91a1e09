import time

import jwt
import pytest

from rewards_shared import auth


@pytest.fixture(scope="module")
def keys():
    return auth.generate_keypair()


def test_a_token_verifies_with_the_public_key_alone(keys):
    private, public = keys
    token, jti = auth.issue(private, "operator:leeds-bus")
    principal = auth.Verifier(public).verify(token)
    assert (principal.kind, principal.subject, principal.jti) == ("operator", "leeds-bus", jti)
    assert principal.acts_for("operator", "leeds-bus")
    assert not principal.acts_for("operator", "york-bus")


def test_no_role_acts_for_another_tenant_or_member(keys):
    private, public = keys
    for role in ("admin", "app", "catalogue", "finance", "support", "analyst"):
        principal = auth.Verifier(public).verify(auth.issue(private, role)[0])
        assert not principal.acts_for("partner", "leeds-cafe")
        principal.check_member("m-1")  # a kind a view admits reaches every member
    member = auth.Verifier(public).verify(auth.issue(private, "member:m-1")[0])
    member.check_member("m-1")
    with pytest.raises(auth.Unreachable):
        member.check_member("m-2")


def test_every_credential_expires(keys):
    private, public = keys
    before = time.time()
    issued = auth.issue_credential(private, "app")
    assert before + auth.DEFAULT_TTL_SECONDS - 5 <= issued.expires_at <= time.time() + auth.DEFAULT_TTL_SECONDS
    unexpiring = jwt.encode({"iss": auth.ISSUER, "role": "app", "jti": "x", "iat": int(before)}, private,
                            algorithm="EdDSA")
    with pytest.raises(auth.InvalidCredential, match="exp"):
        auth.Verifier(public).verify(unexpiring)


def test_the_member_key_signs_member_credentials_only(keys):
    _, public = keys
    member_private, member_public = auth.generate_keypair()
    verifier = auth.Verifier(public, member_public_key_pem=member_public)
    issued = auth.issue_for_member(member_private, "m-7")
    principal = verifier.verify(issued.token)
    assert (principal.role, issued.expires_at - issued.issued_at) == ("member:m-7", auth.MEMBER_TTL_SECONDS)
    forged_staff = auth.issue_credential(member_private, "admin", key_id=auth.MEMBER_KEY_ID).token
    with pytest.raises(auth.InvalidCredential, match="member credentials only"):
        verifier.verify(forged_staff)
    with pytest.raises(auth.InvalidCredential):
        verifier.verify(auth.issue_credential(member_private, "admin").token)  # not the main key
    with pytest.raises(auth.InvalidCredential, match="not accepted"):
        auth.Verifier(public).verify(issued.token)


def test_revoked_and_foreign_tokens_are_refused(keys):
    private, public = keys
    token, jti = auth.issue(private, "app")
    with pytest.raises(auth.InvalidCredential, match="revoked"):
        auth.Verifier(public, is_revoked=lambda j: j == jti).verify(token)
    other_private, _ = auth.generate_keypair()
    with pytest.raises(auth.InvalidCredential):
        auth.Verifier(public).verify(auth.issue(other_private, "admin")[0])
    with pytest.raises(auth.InvalidCredential):
        auth.Verifier(public).verify(token[:-4] + "AAAA")


def test_expired_tokens_are_refused(keys):
    private, public = keys
    token, _ = auth.issue(private, "app", ttl_seconds=-10)
    with pytest.raises(auth.InvalidCredential, match="expired"):
        auth.Verifier(public).verify(token)


@pytest.mark.parametrize("role", ["root", "operator", "app:x", "partner:", "member", "support:x"])
def test_roles_are_checked(role):
    with pytest.raises(ValueError):
        auth.parse_role(role)
